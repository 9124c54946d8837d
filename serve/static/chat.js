// The web chat of `localchain serve`: streams answers from /v1/chat/completions, keeps the
// conversation in a server session (X-Session-Id), lists, switches and deletes sessions.
// No framework and no CDN: it works offline. Model text is always set as text, never HTML.
"use strict";

const SESSION_KEY = "localchain.session";
const API_KEY = "localchain.apiKey";
const $ = (id) => document.getElementById(id);
const state = { session: null, info: null, busy: false };

function newSessionId() {
  const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const random = Math.random().toString(16).slice(2, 6);
  return `web-${stamp.slice(0, 8)}-${stamp.slice(8)}-${random}`;
}

function headers(extra = {}) {
  const key = sessionStorage.getItem(API_KEY);
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  if (response.status === 401) {
    $("key-box").hidden = false;
    setStatus("this server needs an API key: enter it on the left");
  }
  return response;
}

function setStatus(text) { $("status").textContent = text; }

function addMessage(role, text) {
  const item = document.createElement("li");
  item.className = role;
  const body = document.createElement("div");
  body.className = "content";
  body.textContent = text;
  item.appendChild(body);
  $("messages").appendChild(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

function showSources(item, extra) {
  const sources = extra.sources || [];
  if (!sources.length) return;
  const cited = new Set(extra.citations || []);
  const box = document.createElement("div");
  box.className = "sources";
  box.textContent = cited.size ? "Sources (cited):" : "Sources:";
  const list = document.createElement("ol");
  for (const source of sources) {
    const row = document.createElement("li");
    const num = document.createElement("span");
    num.className = "num";
    num.textContent = `[${source.number}]${cited.has(source.number) ? " *" : ""} `;
    row.appendChild(num);
    const text = (source.text || "").replace(/\s+/g, " ");
    row.appendChild(document.createTextNode(
      `${source.source || source.id || "source"}: ${text.length > 200 ? text.slice(0, 197) + "..." : text}`));
    list.appendChild(row);
  }
  box.appendChild(list);
  item.appendChild(box);
}

function showStep(item, step) {
  let box = item.querySelector(".steps");
  if (!box) {
    box = document.createElement("div");
    box.className = "steps";
    box.textContent = "Agent steps:";
    box.appendChild(document.createElement("ol"));
    item.appendChild(box);
  }
  const row = document.createElement("li");
  const input = typeof step.tool_input === "string" ? step.tool_input : JSON.stringify(step.tool_input);
  row.textContent = `${step.tool}(${input}) -> ${step.observation}${step.error ? " (error)" : ""}`;
  box.querySelector("ol").appendChild(row);
}

async function loadInfo() {
  const response = await api("/v1/info");
  if (!response.ok) return;
  state.info = await response.json();
  $("info").textContent = `${state.info.mode} - ${state.info.model} - memory: ${state.info.memory}`;
}

async function loadSessions() {
  const response = await api("/v1/sessions");
  if (!response.ok) return;
  const { data } = await response.json();
  const list = $("sessions");
  list.replaceChildren();
  const ids = data.map((s) => s.id);
  if (state.session && !ids.includes(state.session)) ids.unshift(state.session);
  for (const id of ids) {
    const row = document.createElement("li");
    row.dataset.session = id;
    if (id === state.session) row.className = "current";
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open";
    open.textContent = id;
    open.title = id;
    open.addEventListener("click", () => switchTo(id));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "delete";
    remove.textContent = "\u00d7";
    remove.title = `delete ${id}`;
    remove.setAttribute("aria-label", `delete session ${id}`);
    remove.addEventListener("click", () => deleteSession(id));
    row.append(open, remove);
    list.appendChild(row);
  }
}

async function loadMessages() {
  $("messages").replaceChildren();
  $("session-label").textContent = `session ${state.session}`;
  const response = await api(`/v1/sessions/${encodeURIComponent(state.session)}`);
  if (response.status === 404) return;  // a new session: nothing stored yet
  if (!response.ok) { setStatus(`could not load the session (${response.status})`); return; }
  const session = await response.json();
  for (const message of session.messages) {
    if (message.role === "user" || message.role === "assistant") addMessage(message.role, message.content);
  }
}

async function switchTo(id) {
  if (state.busy) return;
  state.session = id;
  localStorage.setItem(SESSION_KEY, id);
  await loadMessages();
  await loadSessions();
}

async function deleteSession(id) {
  if (state.busy) return;
  await api(`/v1/sessions/${encodeURIComponent(id)}`, { method: "DELETE" });
  if (id === state.session) {
    await switchTo(newSessionId());
  } else {
    await loadSessions();
  }
}

function parseEvents(buffer, onData) {
  // SSE: events are separated by a blank line; each data line carries one JSON chunk.
  let index;
  while ((index = buffer.indexOf("\n\n")) >= 0) {
    const event = buffer.slice(0, index);
    buffer = buffer.slice(index + 2);
    for (const line of event.split("\n")) {
      if (line.startsWith("data: ")) onData(line.slice(6));
    }
  }
  return buffer;
}

async function send(text) {
  state.busy = true;
  $("send").disabled = true;
  addMessage("user", text);
  const item = addMessage("assistant", "");
  item.classList.add("streaming");
  const content = item.querySelector(".content");
  let answer = "";
  let extra = {};
  setStatus("answering...");
  try {
    const response = await api("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Session-Id": state.session },
      body: JSON.stringify({ messages: [{ role: "user", content: text }], stream: true }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = parseEvents(buffer + decoder.decode(value, { stream: true }), (data) => {
        if (data === "[DONE]") return;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.localchain && chunk.localchain.step) showStep(item, chunk.localchain.step);
        if (chunk.localchain && !chunk.localchain.step) extra = chunk.localchain;
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) {
          answer += delta.content;
          content.textContent = answer;
          item.scrollIntoView({ block: "end" });
        }
      });
    }
    if (extra.sources) {
      // The sources are shown as a list below; the footnote text is for plain clients.
      const cut = answer.lastIndexOf("\n\nSources:\n");
      if (cut >= 0) content.textContent = answer.slice(0, cut);
      showSources(item, extra);
    }
    setStatus("");
  } catch (error) {
    item.classList.add("error");
    content.textContent = answer ? `${answer}\n\n[error: ${error.message}]` : `error: ${error.message}`;
    setStatus("");
  } finally {
    item.classList.remove("streaming");
    item.classList.add("done");
    state.busy = false;
    $("send").disabled = false;
    await loadSessions();
  }
}

function start() {
  state.session = localStorage.getItem(SESSION_KEY) || newSessionId();
  localStorage.setItem(SESSION_KEY, state.session);
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("input").value.trim();
    if (!text || state.busy) return;
    $("input").value = "";
    send(text);
  });
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("new-session").addEventListener("click", () => switchTo(newSessionId()));
  $("api-key").addEventListener("change", async (event) => {
    sessionStorage.setItem(API_KEY, event.target.value);
    await loadInfo();
    await switchTo(state.session);
  });
  loadInfo().then(() => switchTo(state.session));
}

start();
