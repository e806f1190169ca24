// The demo page: a Discord-like view of the sandbox, driven through its /_sandbox/ control API
// and the simulated panel's /_sim/ API (proxied on this port). No build step, no framework.
"use strict";

const EPHEMERAL = 64;
const LOADING = 128;
const USER_OPTION_TYPES = new Set([6, 9]);

const state = {
  world: null,
  guild: null,
  channelId: null,
  user: "operator",
  messages: new Map(), // id -> message JSON, every channel
  commands: [], // what this user's picker shows in this channel, as the sandbox decided
  commandsAsked: 0,
  command: null, // the chosen command: {path, def, options}
  optionValues: {},
  unread: new Map(),
  panelDown: false,
};

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  if (!response.ok) {
    const message = (data && (data.error || data.message)) || `HTTP ${response.status}`;
    const error = new Error(message);
    // Discord's own refusals carry a numeric code: shown as Discord shows them, not as ours.
    error.discord = !!(data && typeof data.code === "number");
    throw error;
  }
  return data;
}

// ----- markdown, as much of Discord's as the bot uses -----

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function relativeTime(seconds) {
  const diff = seconds - Date.now() / 1000;
  const abs = Math.abs(diff);
  const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  for (const [unit, size] of units) {
    if (abs >= size || unit === "second") {
      const n = Math.max(1, Math.round(abs / size));
      const label = `${n} ${unit}${n === 1 ? "" : "s"}`;
      return diff < 0 ? `${label} ago` : `in ${label}`;
    }
  }
  return "";
}

function timestampTag(unix, style) {
  const date = new Date(unix * 1000);
  switch (style) {
    case "R": return relativeTime(unix);
    case "t": return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    case "T": return date.toLocaleTimeString();
    case "d": return date.toLocaleDateString();
    case "D": return date.toLocaleDateString([], { dateStyle: "long" });
    case "F": return date.toLocaleString([], { dateStyle: "full", timeStyle: "short" });
    default: return date.toLocaleString([], { dateStyle: "long", timeStyle: "short" });
  }
}

// Mentions as Discord shows them: "@Operator", "@owner" (the raw <@&id> otherwise).
function roleName(id) {
  const role = state.guild && (state.guild.roles || []).find((r) => r.id === id);
  return role ? role.name : "unknown-role";
}

function userName(id) {
  const user = state.world && state.world.users.find((u) => u.id === id);
  return user ? user.name : "unknown-user";
}

function mention(kind, id, name) {
  return `<span class="mention" data-${kind}="${id}">@${escapeHtml(name)}</span>`;
}

function markdown(text) {
  if (!text) return "";
  const blocks = [];
  let html = escapeHtml(text);
  html = html.replace(/```(?:\w+\n)?([\s\S]*?)```/g, (_, code) => {
    blocks.push(`<pre>${code}</pre>`);
    return `\u0000${blocks.length - 1}\u0000`;
  });
  html = html
    .replace(/`([^`\n]+)`/g, "<code>$1</code>")
    .replace(/&lt;@&amp;(\d+)&gt;/g, (_, id) => mention("role", id, roleName(id)))
    .replace(/&lt;@!?(\d+)&gt;/g, (_, id) => mention("user", id, userName(id)))
    .replace(/&lt;t:(-?\d+)(?::([tTdDfFR]))?&gt;/g, (_, unix, style) =>
      `<span class="ts" data-unix="${unix}" data-style="${style || "f"}">${timestampTag(Number(unix), style || "f")}</span>`)
    .replace(/\*\*([^*]+)\*\*/g, "<b>$1</b>")
    .replace(/__([^_]+)__/g, "<u>$1</u>")
    .replace(/(^|[^*])\*([^*\n]+)\*/g, "$1<i>$2</i>")
    .replace(/~~([^~]+)~~/g, "<s>$1</s>")
    .replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>')
    .replace(/^-# (.*)$/gm, '<small style="color:var(--muted)">$1</small>')
    .replace(/^&gt; (.*)$/gm, '<span style="border-left:3px solid #4e5058;padding-left:8px">$1</span>');
  return html.replace(/\u0000(\d+)\u0000/g, (_, i) => blocks[Number(i)]);
}

// ----- rendering messages -----

function colourHex(value) {
  return "#" + Number(value).toString(16).padStart(6, "0");
}

function renderEmbed(embed) {
  const node = el("div", { class: "embed", "data-color": embed.color ?? "" });
  if (embed.color !== undefined && embed.color !== null) node.style.borderLeftColor = colourHex(embed.color);
  if (embed.thumbnail && embed.thumbnail.url) node.append(el("img", { class: "e-thumb", src: embed.thumbnail.url, alt: "" }));
  if (embed.author && embed.author.name) node.append(el("div", { class: "e-author", text: embed.author.name }));
  if (embed.title) {
    const title = el("div", { class: "e-title", html: markdown(embed.title) });
    if (embed.url) title.innerHTML = `<a href="${escapeHtml(embed.url)}" target="_blank" rel="noopener">${markdown(embed.title)}</a>`;
    node.append(title);
  }
  if (embed.description) node.append(el("div", { class: "e-description", html: markdown(embed.description) }));
  if (embed.fields && embed.fields.length) {
    const fields = el("div", { class: "e-fields" });
    for (const field of embed.fields) {
      fields.append(el("div", { class: "e-field" + (field.inline ? "" : " wide"), "data-name": field.name },
        el("div", { class: "e-field-name", html: markdown(field.name) }),
        el("div", { class: "e-field-value", html: markdown(field.value) })));
    }
    node.append(fields);
  }
  if (embed.image && embed.image.url) {
    node.append(el("img", { class: "embed-image", src: embed.image.url, alt: "graph", width: embed.image.width, height: embed.image.height }));
  }
  const footer = [];
  if (embed.footer && embed.footer.text) footer.push(escapeHtml(embed.footer.text));
  if (embed.timestamp) footer.push(new Date(embed.timestamp).toLocaleString());
  if (footer.length) node.append(el("div", { class: "e-footer", html: footer.join(" • ") }));
  return node;
}

function emojiText(emoji) {
  if (!emoji) return "";
  return emoji.id ? `:${emoji.name}:` : emoji.name || "";
}

function renderComponents(message) {
  const wrap = el("div", { class: "components" });
  for (const row of message.components || []) {
    if (row.type !== 1) continue;
    const rowNode = el("div", { class: "action-row" });
    for (const c of row.components || []) {
      if (c.type === 2) {
        const label = [emojiText(c.emoji), c.label || ""].filter(Boolean).join(" ");
        if (c.style === 5) {
          rowNode.append(el("a", { class: "btn-5", href: c.url, target: "_blank", rel: "noopener" },
            el("button", { type: "button", text: label + " ↗" })));
          continue;
        }
        const button = el("button", {
          type: "button", class: `btn-${c.style || 2}`, text: label,
          "data-custom-id": c.custom_id, disabled: !!c.disabled,
        });
        button.addEventListener("click", () => clickComponent(message, c.custom_id, undefined, button));
        rowNode.append(button);
      } else if ([3, 5, 6, 7, 8].includes(c.type)) {
        const select = el("select", { "data-custom-id": c.custom_id, disabled: !!c.disabled },
          el("option", { value: "", text: c.placeholder || "Make a selection" }));
        for (const opt of c.options || []) select.append(el("option", { value: opt.value, text: opt.label }));
        select.addEventListener("change", () => {
          if (select.value) clickComponent(message, c.custom_id, [select.value], select);
        });
        rowNode.append(select);
      }
    }
    wrap.append(rowNode);
  }
  return wrap;
}

function currentUser() {
  return state.world ? state.world.users.find((u) => u.name === state.user) : null;
}

function visible(message) {
  if (!(message.flags & EPHEMERAL)) return true;
  const owner = message.interaction_metadata && message.interaction_metadata.user;
  const me = currentUser();
  return !!(owner && me && owner.id === me.id);
}

function renderMessage(message) {
  const ephemeral = !!(message.flags & EPHEMERAL);
  const node = el("div", { class: "message" + (ephemeral ? " ephemeral" : ""), "data-id": message.id });
  const author = message.author || {};
  const body = el("div", { class: "body" });
  const meta = message.interaction_metadata;
  if (meta && meta.user) {
    const who = meta.user.global_name || meta.user.username;
    body.append(el("div", { class: "used", html: meta.name
      ? `<b>${escapeHtml(who)}</b> used <b>/${escapeHtml(meta.name)}</b>`
      : `<b>${escapeHtml(who)}</b> clicked a button` }));
  }
  body.append(el("div", { class: "meta" },
    el("span", { class: "author", text: author.global_name || author.username || "?" }),
    author.bot ? el("span", { class: "bot-tag", text: "APP" }) : null,
    el("span", { class: "time", text: new Date(message.timestamp).toLocaleTimeString() }),
    message.edited_timestamp ? el("span", { class: "edited", text: "(edited)" }) : null));
  if (message.flags & LOADING) body.append(el("div", { class: "thinking", text: `${author.username || "The bot"} is thinking…` }));
  if (message.content) body.append(el("div", { class: "content", html: markdown(message.content) }));
  for (const embed of message.embeds || []) body.append(renderEmbed(embed));
  const embedded = new Set((message.embeds || []).map((e) => e.image && e.image.url).filter(Boolean));
  for (const att of message.attachments || []) {
    if (embedded.has(att.url)) continue;
    if ((att.content_type || "").startsWith("image/")) body.append(el("img", { class: "embed-image", src: att.url, alt: att.filename }));
    else body.append(el("div", {}, el("a", { href: att.url, target: "_blank", text: att.filename })));
  }
  if (message.components && message.components.length) body.append(renderComponents(message));
  if (ephemeral) {
    const note = el("div", { class: "ephemeral-note", text: "Only you can see this · " });
    note.append(el("a", { text: "Dismiss message", onclick: () => { state.messages.delete(message.id); node.remove(); } }));
    body.append(note);
  }
  node.append(el("div", { class: "avatar", text: (author.username || "?").slice(0, 1).toUpperCase() }), body);
  return node;
}

function renderChannel() {
  // Called when who is looking changes: only ephemeral messages come or go, so the messages
  // that stay keep their nodes (and loaded graphs) and the view keeps its place.
  const box = $("#messages");
  const stick = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const list = [...state.messages.values()]
    .filter((m) => m.channel_id === state.channelId && visible(m))
    .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  const shown = new Map([...box.querySelectorAll(".message")].map((n) => [n.dataset.id, n]));
  const staying = new Set(list.map((m) => m.id));
  const view = box.getBoundingClientRect();
  const viewTop = view.top;
  // The anchor: of the messages still shown afterwards, the one taking most of the view (what
  // is being read); private answers around it may come or go, it stays where it is.
  let anchor = null;
  let most = 0;
  for (const node of shown.values()) {
    if (!staying.has(node.dataset.id)) continue;
    const r = node.getBoundingClientRect();
    const seen = Math.min(r.bottom, view.bottom) - Math.max(r.top, view.top);
    if (seen > most) { most = seen; anchor = node; }
  }
  const anchorOffset = anchor ? anchor.getBoundingClientRect().top - viewTop : 0;
  box.replaceChildren(...list.map((m) => shown.get(m.id) || renderMessage(m)));
  if (stick) box.scrollTop = box.scrollHeight;
  else if (anchor) box.scrollTop += anchor.getBoundingClientRect().top - viewTop - anchorOffset;
}

function upsertMessage(message) {
  state.messages.set(message.id, message);
  if (message.channel_id !== state.channelId) {
    if (visible(message)) state.unread.set(message.channel_id, (state.unread.get(message.channel_id) || 0) + 1);
    renderChannelList();
    return;
  }
  const box = $("#messages");
  const old = box.querySelector(`.message[data-id="${message.id}"]`);
  if (!visible(message)) { if (old) old.remove(); return; }
  const node = renderMessage(message);
  if (old) { old.replaceWith(node); return; }
  const stick = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  const later = [...box.querySelectorAll(".message")].find((n) => BigInt(n.dataset.id) > BigInt(message.id));
  box.insertBefore(node, later || null);
  if (stick) box.scrollTop = box.scrollHeight;
}

function notice(text, kind) {
  const box = $("#messages");
  const node = el("div", { class: kind ? `notice ${kind}` : "notice", text });
  box.append(node);
  box.scrollTop = box.scrollHeight;
  setTimeout(() => node.remove(), 12000);
}

// ----- channels -----

const CHANNEL_TOPICS = {
  status: "Live server status",
  alerts: "Crashes, overloads and outages: one message each, edited until it clears",
  audit: "Who pressed what, muted what, reloaded what",
};

function renderChannelList() {
  const list = $("#channel-list");
  list.replaceChildren();
  for (const channel of state.guild.channels) {
    const unread = state.unread.get(channel.id) || 0;
    list.append(el("li", {
      class: channel.id === state.channelId ? "active" : "", "data-channel": channel.name,
      onclick: () => selectChannel(channel.id),
    }, el("span", { text: `# ${channel.name}` }), unread ? el("span", { class: "badge", text: unread }) : null));
  }
}

async function selectChannel(channelId) {
  state.channelId = channelId;
  state.unread.delete(channelId);
  const channel = state.guild.channels.find((c) => c.id === channelId);
  $("#channel-name").textContent = channel.name;
  $("#channel-topic").textContent = CHANNEL_TOPICS[channel.name] || "";
  renderChannelList();
  loadCommands();
  const messages = await api("GET", `/_sandbox/channels/${channelId}/messages?ephemeral=1`);
  for (const message of messages) {
    const known = state.messages.get(message.id);
    // An event may already have brought a newer version while we were fetching.
    if (!known || (known.edited_timestamp || "") <= (message.edited_timestamp || "")) state.messages.set(message.id, message);
  }
  renderChannel();
  const box = $("#messages");
  box.scrollTop = box.scrollHeight;
}

// ----- live events -----

function connectEvents() {
  const source = new EventSource("/_sandbox/events");
  source.addEventListener("open", () => {
    $("#connection").dataset.state = "live";
    $("#connection").textContent = "live: updates as the bot edits";
  });
  source.addEventListener("error", () => {
    $("#connection").dataset.state = "connecting";
    $("#connection").textContent = "reconnecting…";
  });
  source.addEventListener("message", (event) => {
    const data = JSON.parse(event.data);
    if (data.kind === "delete") {
      state.messages.delete(data.id);
      const node = document.querySelector(`.message[data-id="${data.id}"]`);
      if (node) node.remove();
      return;
    }
    upsertMessage(data.message);
  });
}

// ----- interactions -----

function reportResult(result, what) {
  if (result.status === "answered") return;
  if (result.status === "timeout") notice(`The bot did not answer ${what} within 3 seconds (Discord would show "The application did not respond").`);
  else if (result.status === "rejected") notice(`Discord refused the bot's answer to ${what}: ${JSON.stringify(result.rejected[0]?.body || {})}`);
}

async function clickComponent(message, customId, values, control) {
  control.classList.add("busy");
  try {
    const spec = { type: "component", message_id: message.id, custom_id: customId, user_id: state.user };
    if (values) spec.values = values;
    reportResult(await api("POST", "/_sandbox/interactions", spec), "the click");
  } catch (error) {
    notice(`Could not click as ${state.user}: ${error.message}`);
  } finally {
    control.classList.remove("busy");
  }
}

async function loadCommands() {
  // Discord shows each member only the commands their permissions in this channel allow;
  // the sandbox decides, the page only lists. A later ask (another user) wins.
  const mine = ++state.commandsAsked;
  state.commands = []; // never offer the previous user's commands meanwhile
  const query = state.channelId ? `?channel_id=${state.channelId}` : "";
  try {
    const answer = await api("GET", `/_sandbox/users/${encodeURIComponent(state.user)}/commands${query}`);
    if (mine !== state.commandsAsked) return;
    state.commands = answer.commands;
  } catch (error) {
    if (mine !== state.commandsAsked) return;
    state.commands = [];
    notice(`Could not list the commands of ${state.user}: ${error.message}`);
  }
  if (!$("#suggestions").hidden || document.activeElement === $("#command-input")) showSuggestions();
}

function commandEntries() {
  // "/status add" style paths for sub-commands, like Discord's picker.
  const out = [];
  for (const def of state.commands) {
    const subs = (def.options || []).filter((o) => o.type === 1 || o.type === 2);
    if (!subs.length) { out.push({ path: def.name, def, options: def.options || [] }); continue; }
    for (const sub of subs) {
      if (sub.type === 1) out.push({ path: `${def.name} ${sub.name}`, def: sub, options: sub.options || [] });
      else for (const leaf of sub.options || []) out.push({ path: `${def.name} ${sub.name} ${leaf.name}`, def: leaf, options: leaf.options || [] });
    }
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

function showSuggestions() {
  const box = $("#suggestions");
  const text = $("#command-input").value;
  if (!text.startsWith("/") || (state.command && text.trim() === `/${state.command.path}`)) { box.hidden = true; return; }
  const needle = text.slice(1).trim().toLowerCase();
  const matches = commandEntries().filter((c) => c.path.startsWith(needle) || c.path.includes(needle));
  box.replaceChildren(...matches.map((c) => el("div", {
    class: "suggestion", "data-name": c.path, onclick: () => chooseCommand(c),
  }, el("b", { text: `/${c.path}` }), el("span", { class: "desc", text: c.def.description || "" }))));
  box.hidden = matches.length === 0;
}

function chooseCommand(entry) {
  state.command = entry;
  state.optionValues = {};
  $("#command-input").value = `/${entry.path}`;
  $("#suggestions").hidden = true;
  const fields = $("#option-fields");
  fields.replaceChildren();
  for (const option of entry.options) fields.append(optionField(option));
  const first = fields.querySelector("input, select");
  if (first) first.focus();
}

function optionField(option) {
  const wrap = el("label", { class: "option-field" },
    el("span", { class: "opt-name", text: option.name + (option.required ? "*" : "") + ":" }));
  let input;
  if (option.choices && option.choices.length) {
    input = el("select", { "data-option": option.name }, el("option", { value: "", text: "—" }),
      option.choices.map((c) => el("option", { value: c.value, text: c.name })));
  } else if (option.type === 5) {
    input = el("select", { "data-option": option.name }, el("option", { value: "", text: "—" }),
      el("option", { value: "true", text: "True" }), el("option", { value: "false", text: "False" }));
  } else if (USER_OPTION_TYPES.has(option.type)) {
    input = el("select", { "data-option": option.name }, el("option", { value: "", text: "—" }),
      state.world.users.map((u) => el("option", { value: u.name, text: u.name })));
  } else if (option.type === 7) {
    input = el("select", { "data-option": option.name }, el("option", { value: "", text: "—" }),
      state.guild.channels.map((c) => el("option", { value: c.id, text: `#${c.name}` })));
  } else {
    input = el("input", {
      "data-option": option.name, type: option.type === 4 || option.type === 10 ? "number" : "text",
      placeholder: option.description || option.name,
    });
  }
  if (option.autocomplete) {
    // What is sent is what was typed, or the value of the choice picked last.
    attachAutocomplete(wrap, input, option);
  } else {
    input.addEventListener("change", () => {
      if (input.value !== "") state.optionValues[option.name] = input.value;
      else delete state.optionValues[option.name];
    });
  }
  wrap.append(input);
  return wrap;
}

function attachAutocomplete(wrap, input, option) {
  const box = el("div", { class: "choices", hidden: true });
  wrap.append(box);
  let timer = null;
  let asked = 0; // bumped by every keystroke: an answer to anything older is dropped
  const ask = async () => {
    const mine = ++asked;
    const typed = input.value;
    const options = { ...state.optionValues, [option.name]: typed };
    try {
      const result = await api("POST", "/_sandbox/interactions", {
        type: "autocomplete", name: state.command.path, options, focused: option.name, user_id: state.user,
      });
      if (mine !== asked || input.value !== typed || document.activeElement !== input) return;
      const choices = (result.response && result.response.data && result.response.data.choices) || [];
      box.replaceChildren(...choices.map((c) => el("div", {
        class: "choice", "data-value": c.value,
        onmousedown: (event) => {
          event.preventDefault();
          input.value = c.name;
          state.optionValues[option.name] = c.value;
          box.hidden = true;
        },
      }, c.name)));
      box.hidden = choices.length === 0;
    } catch (error) {
      if (mine !== asked) return;
      box.replaceChildren(el("div", { class: "note", text: `no suggestions: ${error.message}` }));
      box.hidden = false;
    }
  };
  const askSoon = (delay) => {
    // Until the answer for what is typed now arrives, the old list would be a lie.
    asked += 1;
    box.replaceChildren(el("div", { class: "searching", text: "searching…" }));
    box.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(ask, delay);
  };
  input.addEventListener("input", () => {
    // Typing replaces a picked choice: what is sent is what the user typed until they pick.
    state.optionValues[option.name] = input.value;
    askSoon(120);
  });
  input.addEventListener("focus", () => askSoon(0));
  input.addEventListener("blur", () => setTimeout(() => { box.hidden = true; }, 150));
}

async function runCommand(event) {
  event.preventDefault();
  const text = $("#command-input").value.trim();
  if (!state.command || text !== `/${state.command.path}`) {
    const entry = commandEntries().find((c) => `/${c.path}` === text);
    if (!entry) { notice(text ? `No command ${text}: type / to see the commands.` : "Type / to pick a command."); return; }
    chooseCommand(entry);
    if (entry.options.some((o) => o.required)) return;
  }
  const options = {};
  for (const option of state.command.options) {
    const value = state.optionValues[option.name];
    if (value === undefined || value === "") {
      if (option.required) { notice(`/${state.command.path} needs the option "${option.name}".`); return; }
      continue;
    }
    options[option.name] = option.type === 5 ? value === "true" : value;
  }
  const path = state.command.path;
  const button = $("#send");
  button.disabled = true;
  try {
    const result = await api("POST", "/_sandbox/interactions", {
      type: "command", name: path, options, user_id: state.user, channel_id: state.channelId,
    });
    reportResult(result, `/${path}`);
    $("#command-input").value = "";
    $("#option-fields").replaceChildren();
    state.command = null;
    state.optionValues = {};
  } catch (error) {
    if (error.discord) notice(error.message, "discord-error");
    else notice(`/${path} as ${state.user}: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

// ----- the simulated panel -----

function formatBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function serverState(server) {
  if (server.status) return { dot: "blocked", text: server.status };
  if (server.node_down) return { dot: "blocked", text: "node down" };
  return { dot: server.state, text: server.state + (server.crashlooping ? " (crash loop)" : "") };
}

async function refreshPanel() {
  try {
    const [servers, faults] = await Promise.all([api("GET", "/_sim/servers"), api("GET", "/_sim/faults")]);
    state.panelDown = faults.faults.some((f) => f.kind === "down" && f.servers === null);
    const toggle = $("#panel-toggle");
    toggle.textContent = state.panelDown ? "Reconnect the panel" : "Cut the panel off";
    toggle.classList.toggle("restore", state.panelDown);
    $("#panel-state").textContent = state.panelDown ? "the bot cannot reach the panel" : "panel reachable";
    const list = $("#server-list");
    list.replaceChildren(...servers.servers.map((s) => {
      const shown = serverState(s);
      const r = s.resources;
      const cpuLimit = s.limits.cpu ? ` / ${s.limits.cpu}%` : "";
      return el("li", { class: "server", "data-identifier": s.identifier, "data-state": s.state },
        el("div", { class: "row" },
          el("span", { class: `dot ${shown.dot}` }),
          el("span", { class: "name", title: `${s.name} (${s.identifier})`, text: s.name }),
          el("button", {
            type: "button", text: "Crash", disabled: s.state === "offline",
            title: "Stop the process at once, as a crash does",
            onclick: async () => { await api("POST", `/_sim/servers/${s.identifier}/crash`); refreshPanel(); },
          })),
        el("div", { class: "figures", text: `${shown.text} · CPU ${r.cpu_absolute.toFixed(0)}%${cpuLimit} · RAM ${formatBytes(r.memory_bytes)} · ${s.identifier}` }));
    }));
  } catch (error) {
    $("#panel-state").textContent = `panel controls unavailable: ${error.message}`;
  }
}

async function togglePanel() {
  if (state.panelDown) await api("DELETE", "/_sim/faults");
  else await api("POST", "/_sim/faults", { kind: "down" });
  refreshPanel();
}

// ----- start -----

async function main() {
  state.world = await api("GET", "/_sandbox/world");
  state.guild = state.world.guilds[0];
  $("#guild-name").textContent = state.guild.name;
  state.user = $("#user-select").value;
  connectEvents();
  const status = state.guild.channels.find((c) => c.name === "status") || state.guild.channels[0];
  await selectChannel(status.id);
  $("#user-select").addEventListener("change", () => {
    state.user = $("#user-select").value;
    $("#command-input").placeholder = `Type / for commands, as ${state.user}`;
    loadCommands();
    renderChannel();
  });
  $("#command-input").addEventListener("input", showSuggestions);
  $("#command-input").addEventListener("focus", showSuggestions);
  $("#command-input").addEventListener("keydown", (event) => {
    const first = $("#suggestions .suggestion");
    if (event.key === "Tab" && first && !$("#suggestions").hidden) { event.preventDefault(); first.click(); }
  });
  $("#composer").addEventListener("submit", runCommand);
  $("#panel-toggle").addEventListener("click", togglePanel);
  await refreshPanel();
  setInterval(refreshPanel, 2000);
  // Relative times ("5 minutes ago") keep moving like Discord's.
  setInterval(() => {
    for (const node of document.querySelectorAll(".ts[data-style='R']")) node.textContent = relativeTime(Number(node.dataset.unix));
  }, 10000);
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  document.body.dataset.ready = "error";
  notice(`The demo page could not start: ${error.message}`);
});
