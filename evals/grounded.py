"""A faithfulness judge for the embedded stack: each claim of the answer checked against the
contexts with evidence small models are good at.

A 135M judge asked "is this statement supported?" says yes to nearly everything. The
evidence that does carry signal on this stack is mostly not the LLM's:

* **claims** without an LLM: the answer split into sentences and clauses (``;``, ", but",
  ", and it ..."), a leading "Yes," / "No," dropped; a clause that only says the answer is
  not known or not in the context (a *refusal*) is not a claim. A one-sentence answer is one
  claim;
* **similarity**: the embedded all-MiniLM-L6-v2 cosine between the claim and its best
  matching context sentence (a context longer than the embedding window is split into
  overlapping windows, not cut);
* **overlap**: the share of the claim's content words found in the contexts (the citation
  checker's :func:`~localchain.chains.citations.content_terms`), and the same share for the
  words the claim adds to the question ("Plants absorb helium": only "helium");
* **conflicts**, each enough to call a claim unsupported: a number or date in the claim that
  no context has, a name (a capitalised word inside the sentence, an acronym, or a run of
  capitalised words) that no context has, and a negation the best matching context clause
  does not share ("Penguins can fly" against "Penguins ... cannot fly");
* the **LLM vote** (not in :data:`DEFAULT_SIGNALS`): the judge model answers ``yes`` / ``no``
  under a grammar about the claim and its evidence sentences. It is one more vote; its text
  never becomes the reason.

A claim is supported when it has no conflict and the weighted mean of similarity, overlap and
new-word overlap (0.4, 0.2, 0.4; plus ``llm_weight`` for a yes, minus it for a no) reaches
``threshold`` (0.5) - chosen on the calibration set's dev split. The score is the share of
supported claims, as in Ragas; the reason names every claim, its verdict and its evidence,
quoting only the answer and the contexts.

An answer that is only a refusal, or whose contexts are in another language than the answer,
is not scorable (:class:`~localchain.evals.results.NotScorableKind` ``refusal`` /
``language_mismatch``) instead of a number that means nothing.

Example:
    >>> judge = GroundedFaithfulness(signals=("overlap", "conflicts"))
    >>> check = judge.check("Who landed on the Moon first?",
    ...                     "Buzz Aldrin landed first, in 1975.",
    ...                     ["Neil Armstrong was the first person on the Moon, in 1969."])
    >>> check.score, check.claims[0].conflicts
    (0.0, ['1975 is in no context', 'Buzz Aldrin is in no context'])
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field
from ragas.metrics.collections.base import BaseMetric
from ragas.metrics.result import MetricResult

from localchain.chains.citations import content_terms
from localchain.errors import NotScorableError
from localchain.evals.results import NotScorable, NotScorableKind
from localchain.text import ENGLISH_STOP_WORDS

__all__ = [
    "DEFAULT_SIGNALS",
    "SIGNALS",
    "ClaimCheck",
    "ClaimVote",
    "FaithfulnessCheck",
    "GroundedFaithfulness",
    "guess_language",
    "is_embedded_judge",
    "resolve_faithfulness_judge",
    "split_claims",
    "split_sentences",
]

Signal = Literal["similarity", "overlap", "conflicts", "llm"]
SIGNALS: tuple[Signal, ...] = ("similarity", "overlap", "conflicts", "llm")
"""The evidence :class:`GroundedFaithfulness` can combine."""
DEFAULT_SIGNALS: tuple[Signal, ...] = ("similarity", "overlap", "conflicts")
"""The default: on the calibration set's dev split the embedded model's vote lowered the
agreement (docs/evals.md), so it is left out unless asked for."""

# Sentence ends: ., ! or ? before a space and a capital, digit or quote; common abbreviations
# ("Dr.", "e.g.", "U.S.") are not ends.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATION = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Prof|Jr|Sr|vs|etc|e\.g|i\.e|approx|No|"
                           r"Vol|Fig|Inc|Ltd|Co)|\b[A-Z])\.$")
# Clause breaks inside a sentence that start a claim of its own.
_CLAUSE_BREAK = re.compile(
    r"\s*;\s*|,\s+but\s+|,\s+(?=(?:which|who)\s+(?:is|was|are|were|has|had)\b)"
    r"|\s+but\s+(?=(?:it|he|she|they|this|that|there|its|the)\b)"
    r"|,\s+and\s+(?=(?:it|he|she|they|this|that|there|its)\b)"
    r"|\s+and\s+(?=(?:it|he|she|they|this|there)\s+(?:is|was|are|were|has|had|never|also)\b)",
    re.IGNORECASE)
_LEADING_YES_NO = re.compile(r"^\s*(?:yes|no|yeah|nope|correct|right)\b[\s,.;:!-]*",
                             re.IGNORECASE)
_REFUSAL = re.compile(
    r"^\s*(?:i\s+(?:do\s*n[o']t|don't|cannot|can't|am\s+not\s+(?:sure|certain|able)|have\s+no)|"
    r"(?:i'm|i\s+am)\s+(?:not\s+sure|unsure|unable)|not\s+sure|unknown|no\s+idea|"
    r"(?:sorry|unfortunately)\b)"
    r"|\b(?:the\s+)?(?:provided\s+|given\s+)?(?:context|contexts|passage|passages|text|"
    r"sources?|documents?)\s+(?:does\s*n[o']t|doesn't|do\s*n[o']t|don't|did\s*n[o']t|"
    r"does\s+not|do\s+not|only|is\s+(?:about|silent)|says\s+nothing|gives\s+no|has\s+no|"
    r"contains?\s+no|provides?\s+no|makes?\s+no|never)\b"
    r"|\b(?:is|are)\s+not\s+(?:mentioned|stated|given|provided|said)\b"
    r"|\bno\s+information\b|\bcannot\s+(?:be\s+)?(?:answer|determine|tell)",
    re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|none|nobody|nothing|neither|nor|without|"
                       r"\w+n't|non)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?:st|nd|rd|th)?(?![\w])")
_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "dozen": 12,
}
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
# Words that open a sentence without being a name.
_OPENERS = frozenset("yes no sure instead actually overall generally basically roughly "
                     "approximately nearly today currently originally also however".split())
# The embedding model reads at most 256 word pieces and was trained on sentences: a longer
# run of text is read in overlapping windows of 48 words.
_WINDOW_WORDS = 48


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (a period after a common abbreviation or an initial does not
    end one).

    Example:
        >>> split_sentences("Dr. Watson met Holmes in 1881. They shared rooms! Did they?")
        ['Dr. Watson met Holmes in 1881.', 'They shared rooms!', 'Did they?']
    """
    out: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*[-*•\d])", text):
        for piece in _SENTENCE_END.split(" ".join(block.split())):
            if out and _ends_with_abbreviation(out[-1]):
                out[-1] = f"{out[-1]} {piece}"
            elif piece.strip():
                out.append(piece.strip())
    return out


def _ends_with_abbreviation(sentence: str) -> bool:
    return bool(_ABBREVIATION.search(sentence.split()[-1])) if sentence.split() else False


def split_claims(answer: str) -> tuple[list[str], list[str]]:
    """(claims, refusals) of an answer: sentences and clauses that state something, and the
    ones that only say the answer is not known or not in the context.

    Example:
        >>> split_claims("No, penguins cannot fly; they swim.")
        (['penguins cannot fly', 'they swim.'], [])
        >>> split_claims("I am not sure, but Oslo has about 4 million people.")
        (['Oslo has about 4 million people.'], ['I am not sure'])
    """
    claims: list[str] = []
    refusals: list[str] = []
    for sentence in split_sentences(answer):
        for clause in _CLAUSE_BREAK.split(sentence):
            clause = _LEADING_YES_NO.sub("", clause).strip()
            if not clause or not _WORD.search(clause):
                continue
            if _REFUSAL.search(clause):
                refusals.append(clause)
            elif content_terms(clause) or _numbers(clause):
                claims.append(clause)
    return claims, refusals


_STOP_BY_LANGUAGE = {
    "en": frozenset("the a an is are was were of and to in that it for on with as by at from "
                    "this be or not have has".split()),
    "de": frozenset("der die das und ist nicht ein eine zu den von mit sich des auf für im "
                    "dem wird sind auch als".split()),
    "fr": frozenset("le la les et est un une des du en que qui dans pour pas sur au avec sont "
                    "ce il elle".split()),
    "es": frozenset("el la los las y es un una de que en por con para del se no al lo "
                    "son".split()),
    "it": frozenset("il lo la gli le e è un una di che in per con del della non sono "
                    "si".split()),
    "nl": frozenset("de het een en is van dat niet in op te met zijn voor er ook".split()),
    "pt": frozenset("o a os as e é um uma de que em para com do da não se por são".split()),
}


def guess_language(text: str) -> str | None:
    """A guess at the language of ``text`` from its function words (``en``, ``de``, ``fr``,
    ``es``, ``it``, ``nl``, ``pt``), ``"non-latin"`` for text mostly in another script, or
    None when the text is too short or mixed to tell.

    Example:
        >>> guess_language("The tower was completed in 1889 for the fair.")
        'en'
        >>> guess_language("Der Turm wurde 1889 für die Weltausstellung fertiggestellt und ist "
        ...                "bis heute ein Wahrzeichen der Stadt.")
        'de'
    """
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isascii() or c in "àâäçéèêëîïôöùûüÿñßœæ" for c in letters
                                  ) < 0.5 * len(letters):
        return "non-latin"
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < 6:
        return None
    counts = {lang: sum(w in stop for w in words) for lang, stop in _STOP_BY_LANGUAGE.items()}
    best = max(counts, key=lambda lang: counts[lang])
    ranked = sorted(counts.values(), reverse=True)
    if ranked[0] < max(2, 0.12 * len(words)) or ranked[0] < 1.5 * ranked[1]:
        return None
    return best


def _numbers(text: str) -> set[str]:
    found = set()
    for match in _NUMBER.finditer(text):
        raw = re.sub(r"(st|nd|rd|th)$", "", match.group())
        # "6,650" and "299,792" are thousands; "2,5" a European decimal.
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
            raw = raw.replace(",", "")
        found.add(str(float(raw.replace(",", "."))).removesuffix(".0"))
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _NUMBER_WORDS:
            found.add(str(_NUMBER_WORDS[word]))
    return found


def _stem(word: str) -> str:
    word = word.lower().replace("’", "'").removesuffix("'s").strip("'-")
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:5]


def _names(claim: str) -> list[list[str]]:
    """Runs of capitalised words that may be names: inside the sentence, acronyms, or a
    sentence opener followed by another capitalised word ("Emily Bronte")."""
    words = [(m.group(), m.start()) for m in _WORD.finditer(claim)]
    runs: list[list[str]] = []
    previous_end = -2
    for position, (word, start) in enumerate(words):
        if not word[0].isupper() or word.lower() in ENGLISH_STOP_WORDS:
            continue
        opener = position == 0 or re.search(r"[.!?:;]\s*$", claim[:start]) is not None
        if opener:
            following = words[position + 1][0] if position + 1 < len(words) else ""
            if word.lower() in _OPENERS or claim[start + len(word):].startswith(","):
                continue
            if not (word.isupper() and len(word) > 1) and not following[:1].isupper():
                continue
        name = word.removesuffix("'s").removesuffix("’s")
        if runs and claim[previous_end:start].strip() == "":
            runs[-1].append(name)
        else:
            runs.append([name])
        previous_end = start + len(word)
    return runs


def _acronyms(text: str) -> set[str]:
    runs = re.findall(r"(?:[A-Z][a-z]+\s+(?:of\s+|the\s+|for\s+|and\s+)*){1,6}[A-Z][a-z]+", text)
    out = set()
    for run in runs:
        words = [w for w in run.split() if w[0].isupper()]
        for size in range(2, len(words) + 1):
            for start in range(len(words) - size + 1):
                out.add("".join(w[0] for w in words[start:start + size]))
    return out


def _clauses(sentence: str) -> list[str]:
    return [c for c in re.split(r"\s*[,;:]\s*|\s+but\s+|\s+whereas\s+", sentence) if c.strip()]


def _windows(sentence: str) -> list[str]:
    words = sentence.split()
    if len(words) <= _WINDOW_WORDS:
        return [sentence]
    step = _WINDOW_WORDS * 2 // 3
    return [" ".join(words[start:start + _WINDOW_WORDS])
            for start in range(0, len(words) - _WINDOW_WORDS + step, step)]


class ClaimVote(BaseModel):
    """The LLM vote on one claim."""

    supported: Literal["yes", "no"]


class ClaimCheck(BaseModel):
    """The verdict on one claim and the evidence behind it.

    Example:
        >>> ClaimCheck(claim="Paris is in France.", supported=True).verdict
        'supported'
    """

    claim: str
    supported: bool
    score: float = 0.0
    """The combined evidence score compared with the threshold (conflicts aside)."""
    evidence: str = ""
    """The best matching context sentence."""
    similarity: float | None = None
    """Cosine of the claim and its best matching context sentence (embeddings)."""
    overlap: float | None = None
    """Share of the claim's content words found in the contexts."""
    new_overlap: float | None = None
    """The same for the words the question does not already contain - what the claim
    adds; 1.0 when it adds none."""
    conflicts: list[str] = Field(default_factory=list)
    llm_vote: bool | None = None

    @property
    def verdict(self) -> str:
        """``supported`` or ``not supported``."""
        return "supported" if self.supported else "not supported"

    def reason(self) -> str:
        """One line: the claim, its verdict and its evidence, quoting answer and contexts."""
        parts = []
        if self.conflicts:
            parts.append("; ".join(self.conflicts))
        measures = []
        if self.similarity is not None:
            measures.append(f"similarity {self.similarity:.2f}")
        if self.overlap is not None:
            measures.append(f"words {self.overlap:.2f}")
        if self.new_overlap is not None:
            measures.append(f"new words {self.new_overlap:.2f}")
        if self.llm_vote is not None:
            measures.append(f"model {'yes' if self.llm_vote else 'no'}")
        evidence = f'closest context: "{_short(self.evidence)}"' if self.evidence else \
            "no context sentence matches"
        parts.append(evidence + (f" ({', '.join(measures)})" if measures else ""))
        return f'[{self.verdict}] "{_short(self.claim)}" - {" - ".join(parts)}'


class FaithfulnessCheck(BaseModel):
    """Every claim of one answer, checked.

    Example:
        >>> check = FaithfulnessCheck(claims=[ClaimCheck(claim="a", supported=True),
        ...                                   ClaimCheck(claim="b", supported=False)])
        >>> check.score
        0.5
    """

    claims: list[ClaimCheck] = Field(default_factory=list)
    refusals: list[str] = Field(default_factory=list)
    """Clauses that only say the answer is not known; not claims."""
    not_scorable: NotScorable | None = None

    @property
    def score(self) -> float | None:
        """The share of supported claims; None when the answer is not scorable."""
        if self.not_scorable is not None or not self.claims:
            return None
        return sum(c.supported for c in self.claims) / len(self.claims)

    def reason(self) -> str:
        """A line per claim (and per refusal clause)."""
        lines = [c.reason() for c in self.claims]
        lines += [f'[refusal, not a claim] "{_short(r)}"' for r in self.refusals]
        if self.not_scorable is not None:
            lines.insert(0, self.not_scorable.detail)
        return "\n".join(lines)


def _short(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_VOTE_PROMPT = (
    "Context:\n{evidence}\n\nStatement: {claim}\n\n"
    "Does the context say what the statement says? A statement that changes a number, a "
    "name or a fact of the context, or adds something the context does not say, is not "
    "supported. Answer yes or no."
)


class GroundedFaithfulness(BaseMetric):
    """Faithfulness from per-claim evidence (a Ragas ``BaseMetric``, named ``faithfulness``).

    ``judge``: the model that casts the LLM vote - a
    :class:`~localchain.evals.judge.ConstrainedJudge` or any LangChain chat model (None: the
    embedded model, loaded on first use). ``embeddings``: LangChain embeddings (None: the
    embedded MiniLM). ``signals``: which evidence to use (:data:`SIGNALS`); the weights and
    the threshold were chosen on the calibration set's dev split (docs/evals.md).

    Example:
        >>> metric = GroundedFaithfulness(signals=("overlap", "conflicts"))
        >>> metric.score(user_input="How many legs does a spider have?",
        ...              response="A spider has six legs.",
        ...              retrieved_contexts=["Spiders are arachnids with eight legs."]).value
        0.0
    """

    def __init__(
        self,
        judge: Any = None,
        embeddings: Any = None,
        *,
        signals: Sequence[str] = DEFAULT_SIGNALS,
        similarity_weight: float = 0.4,
        overlap_weight: float = 0.2,
        new_overlap_weight: float = 0.4,
        llm_weight: float = 0.1,
        threshold: float = 0.5,
        name: str = "faithfulness",
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(signals) - set(SIGNALS))
        if unknown or not signals:
            raise ValueError(f"signals must be a non-empty subset of {', '.join(SIGNALS)}; "
                             f"got {list(signals)}")
        weights = (similarity_weight, overlap_weight, new_overlap_weight, llm_weight)
        if min(weights) < 0 or not 0.0 <= threshold <= 1.0:
            raise ValueError(f"weights must be >= 0 and the threshold in [0, 1]; got weights "
                             f"{weights} and threshold {threshold}")
        self.signals = tuple(dict.fromkeys(signals))
        self.similarity_weight = similarity_weight
        self.overlap_weight = overlap_weight
        self.new_overlap_weight = new_overlap_weight
        self.llm_weight = llm_weight
        self.threshold = threshold
        self._judge = judge
        self._embeddings = embeddings
        super().__init__(name=name, **kwargs)

    # -- Ragas entry points ------------------------------------------------------------
    async def ascore(  # type: ignore[override]
        self, user_input: str, response: str, retrieved_contexts: list[str]
    ) -> MetricResult:
        """Score one answer; raises NotScorableError for a refusal or a language mismatch."""
        return await asyncio.to_thread(self.score, user_input=user_input, response=response,
                                       retrieved_contexts=retrieved_contexts)

    def score(  # type: ignore[override]
        self, user_input: str, response: str, retrieved_contexts: list[str]
    ) -> MetricResult:
        """Blocking :meth:`ascore` (works inside a running event loop too)."""
        check = self.check(user_input, response, retrieved_contexts)
        if check.not_scorable is not None:
            raise NotScorableError(check.not_scorable.kind, check.not_scorable.detail,
                                   reason=check.reason())
        return MetricResult(value=check.score, reason=check.reason())

    # -- the check -----------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """The judge's settings, for run metadata."""
        return {"judge": "grounded", "signals": list(self.signals),
                "similarity_weight": self.similarity_weight,
                "overlap_weight": self.overlap_weight,
                "new_overlap_weight": self.new_overlap_weight, "llm_weight": self.llm_weight,
                "threshold": self.threshold}

    def check(self, question: str, answer: str, contexts: Sequence[str]) -> FaithfulnessCheck:
        """Split ``answer`` into claims and check each against ``contexts`` (blocking)."""
        contexts = [c for c in contexts if c and c.strip()]
        if not answer or not answer.strip():
            return FaithfulnessCheck(not_scorable=NotScorable(
                kind=NotScorableKind.EMPTY_ANSWER, detail="the answer is empty"))
        if not contexts:
            return FaithfulnessCheck(not_scorable=NotScorable(
                kind=NotScorableKind.NO_CONTEXTS, detail="there are no contexts to check "
                "the answer against"))
        claims, refusals = split_claims(answer)
        if not claims:
            detail = ("the answer only declines to answer; it makes no claim to check"
                      if refusals else "the answer has no statement to check")
            kind = NotScorableKind.REFUSAL if refusals else NotScorableKind.NO_STATEMENTS
            return FaithfulnessCheck(refusals=refusals,
                                     not_scorable=NotScorable(kind=kind, detail=detail))
        answer_language = guess_language(answer)
        context_language = guess_language(" ".join(contexts))
        if answer_language and context_language and answer_language != context_language:
            return FaithfulnessCheck(refusals=refusals, not_scorable=NotScorable(
                kind=NotScorableKind.LANGUAGE_MISMATCH,
                detail=f"the answer reads as {answer_language} and the contexts as "
                       f"{context_language}; the grounded judge compares words and English "
                       "embeddings, so it cannot judge across languages (use an LLM judge "
                       "that reads both)"))
        sentences = [w for c in contexts for s in split_sentences(c) for w in _windows(s)]
        checks = [self._check_claim(claim, question, sentences, contexts) for claim in claims]
        if "similarity" in self.signals:
            self._add_similarity(checks, sentences)
        if "llm" in self.signals:
            for check in checks:
                check.llm_vote = self._vote(check.claim, check.evidence, sentences)
        for check in checks:
            self._decide(check)
        return FaithfulnessCheck(claims=checks, refusals=refusals)

    def _check_claim(self, claim: str, question: str, sentences: list[str],
                     contexts: Sequence[str]) -> ClaimCheck:
        terms = content_terms(claim)
        context_terms = content_terms(" ".join(contexts))
        new_terms = terms - content_terms(question or "")
        best = max(sentences, key=lambda s: (len(terms & content_terms(s)), -len(s)))
        check = ClaimCheck(claim=claim, supported=False, evidence=best)
        if "overlap" in self.signals:
            check.overlap = round(len(terms & context_terms) / len(terms) if terms else 1.0, 3)
            check.new_overlap = round(
                len(new_terms & context_terms) / len(new_terms) if new_terms else 1.0, 3)
        if "conflicts" in self.signals:
            check.conflicts = self._conflicts(claim, best, contexts)
        return check

    @staticmethod
    def _conflicts(claim: str, best: str, contexts: Sequence[str]) -> list[str]:
        everything = " ".join(contexts)
        conflicts = []
        numbers = _numbers(everything)
        for number in sorted(_numbers(claim) - numbers, key=lambda n: claim.find(n)):
            conflicts.append(f"{number} is in no context")
        stems = {_stem(w) for w in _WORD.findall(everything)}
        acronyms = _acronyms(everything)
        for run in _names(claim):
            if any(_stem(name) not in stems and name not in acronyms for name in run):
                conflicts.append(f"{' '.join(run)} is in no context")
        claim_terms = content_terms(claim)
        clause = max(_clauses(best), key=lambda c: len(claim_terms & content_terms(c)))
        shared = claim_terms & content_terms(clause)
        if len(shared) * 2 >= max(1, len(claim_terms)):
            negated, context_negated = bool(_NEGATION.search(claim)), bool(
                _NEGATION.search(clause))
            if negated != context_negated:
                said = "negates" if negated else "does not negate"
                conflicts.append(f'the claim {said} what the context says ("{_short(clause, 80)}")')
        return list(dict.fromkeys(conflicts))

    def _add_similarity(self, checks: list[ClaimCheck], sentences: list[str]) -> None:
        embeddings = self._embedder()
        claim_vectors = _unit(embeddings.embed_documents([c.claim for c in checks]))
        sentence_vectors = _unit(embeddings.embed_documents(sentences))
        similarity = claim_vectors @ sentence_vectors.T
        for row, check in zip(similarity, checks, strict=True):
            best = int(np.argmax(row))
            check.similarity = round(float(row[best]), 3)
            if "overlap" not in self.signals and "conflicts" not in self.signals:
                check.evidence = sentences[best]
            elif check.evidence != sentences[best] and row[best] > row[
                    sentences.index(check.evidence)] + 0.1:
                check.evidence = sentences[best]

    def _embedder(self) -> Any:
        if self._embeddings is None:
            from localchain.retrievers.embeddings import default_embeddings

            self._embeddings = default_embeddings()
        return self._embeddings

    def _vote(self, claim: str, evidence: str, sentences: list[str]) -> bool | None:
        from localchain.evals.judge import as_judge

        if self._judge is None or not hasattr(self._judge, "generate"):
            self._judge = as_judge(self._judge)
        others = [s for s in sentences if s != evidence][:1]
        prompt = _VOTE_PROMPT.format(evidence="\n".join([evidence, *others]), claim=claim)
        try:
            vote = self._judge.generate(prompt, ClaimVote)
        except Exception:  # noqa: BLE001 - a failed vote is no vote; the other signals decide
            return None
        return vote.supported == "yes"

    def _decide(self, check: ClaimCheck) -> None:
        weighted = [(value, weight) for value, weight in (
            (check.similarity, self.similarity_weight),
            (check.overlap, self.overlap_weight),
            (check.new_overlap, self.new_overlap_weight)) if value is not None and weight > 0]
        total = sum(weight for _, weight in weighted)
        score = sum(value * weight for value, weight in weighted) / total if total else None
        if check.llm_vote is not None:
            if score is None:
                score = 1.0 if check.llm_vote else 0.0
            else:
                score += self.llm_weight if check.llm_vote else -self.llm_weight
        if score is None:  # conflicts alone: supported unless one is found
            check.supported = not check.conflicts
            return
        check.score = round(score, 3)
        check.supported = not check.conflicts and score >= self.threshold


def is_embedded_judge(judge: Any) -> bool:
    """True when ``judge`` (a ConstrainedJudge or a chat model) runs the embedded model.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> is_embedded_judge(FakeListChatModel(responses=["x"]))
        False
    """
    chat = getattr(judge, "chat", judge)
    if type(chat).__name__ != "LlamaCppChat":
        return False
    path = getattr(chat, "model_path", None)
    if path is None:
        return True
    from pathlib import Path

    from localchain.models.embedded import embedded_model_path

    return Path(path).resolve() == embedded_model_path().resolve()


def resolve_faithfulness_judge(choice: str, judge: Any) -> Literal["grounded", "llm"]:
    """The faithfulness judge ``choice`` (``auto``, ``grounded``, ``llm``) stands for with
    this judge model: ``auto`` is grounded for the embedded model, llm for any other.

    Example:
        >>> resolve_faithfulness_judge("auto", None)
        'llm'
        >>> resolve_faithfulness_judge("grounded", None)
        'grounded'
    """
    if choice not in ("auto", "grounded", "llm"):
        raise ValueError(f"faithfulness judge must be auto, grounded or llm, not {choice!r}")
    if choice == "auto":
        return "grounded" if judge is not None and is_embedded_judge(judge) else "llm"
    return choice  # type: ignore[return-value]


def _unit(vectors: Any) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)
