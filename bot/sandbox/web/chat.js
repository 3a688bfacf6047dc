/* Sandbox web chat: a thin client of the sandbox control API (bot/sandbox/README.md).
 *
 * Everything the page shows comes from two server-sent event streams: the chat of the chosen user
 * (/sandbox/api/users/{id}/events) and the SMS gateway (/sandbox/api/sms/events). What the user does
 * is one POST /sandbox/api/users/{id}/send; its answer only matters for errors and callback answers,
 * since the bot's replies arrive on the stream like any other change of the chat.
 *
 * Bot text is Telegram HTML. It is never given to innerHTML: a small parser builds the allowed
 * elements (b, i, u, s, code, pre, a and Telegram's synonyms) and everything else stays text.
 */
"use strict";

(() => {
  const API = "sandbox/api";
  const STORE = "sandbox-webchat";
  const TYPING_MS = 5500;

  // -- labels: Chinese first, English when the simulated user speaks English ------------------------

  const LABELS = {
    zh: {
      skip: "跳到输入框", users: "用户", sms: "短信", users_heading: "模拟用户", close: "关闭",
      pick_user: "选择已有用户", new_user: "新用户…", refresh: "刷新", user_id: "用户 ID",
      user_id_hint: "正整数，即 Telegram 用户 ID", user_name: "名字", language: "语言",
      open_chat: "进入聊天", users_help: "模拟用户只存在于沙盒中；首条消息会创建该用户。",
      messages: "聊天记录", start_hint: "这是与机器人的新对话。", start: "开始 /start",
      menu: "菜单", commands: "命令菜单", attach: "发送照片、视频或文件", message: "消息",
      composer_hint: "回车发送，Shift+回车换行", keyboard: "键盘按钮", record: "录制视频消息",
      send: "发送", sms_heading: "短信收件箱", sms_help: "机器人通过沙盒短信网关发出的短信（所有号码）。",
      sms_empty: "暂无短信", contact_title: "分享手机号",
      contact_desc: "机器人请求您的联系人。请输入要分享的手机号码：", phone: "手机号码", cancel: "取消",
      share: "分享", attach_title: "发送文件", send_as: "发送为", photo: "照片", video: "视频",
      video_note: "视频消息（圆形）", document: "文件", choose_file: "选择文件", caption: "说明（可选）",
      forwarded: "作为转发的消息发送", record_file: "选择或拍摄一段视频", record_start: "开始录制",
      record_stop: "停止录制", record_retake: "重新录制", bot_says: "机器人提示", ok: "确定",
      pick_user_first: "请先选择或创建一个模拟用户", placeholder: "输入消息", you: "我", bot: "机器人",
      edited: "已编辑", forwarded_tag: "转发的消息", contact: "联系人", connecting: "连接中…",
      reconnecting: "连接中断，正在重连…", online: "已连接", working: "机器人处理中",
      typing: "机器人正在输入…", uploading: "机器人正在发送文件…", lang_zh: "中文", lang_en: "English",
      bad_id: "用户 ID 必须是正整数", bad_name: "请输入名字", bad_phone: "请输入有效的手机号码",
      no_file: "请选择一个文件", send_failed: "发送失败", no_commands: "机器人没有设置命令",
      camera_unavailable: "此浏览器无法使用摄像头录制（需要 HTTPS 或 localhost 并允许摄像头）。请选择或拍摄一段视频文件。",
      camera_denied: "无法打开摄像头：", camera_ready: "摄像头已就绪", recording: "正在录制",
      recorded: "录制完成，可以发送", new_sms: "新短信", use_code: "填入验证码", photo_alt: "图片",
      video_alt: "视频", unsupported_button: "沙盒不支持此按钮", location_unsupported: "沙盒不支持分享位置",
      history_loaded: "已载入聊天记录", deleted: "一条消息已被删除", user_label: "用户",
    },
    en: {
      skip: "Skip to the message box", users: "Users", sms: "SMS", users_heading: "Simulated user",
      close: "Close", pick_user: "Pick a user", new_user: "New user…", refresh: "Refresh",
      user_id: "User ID", user_id_hint: "A positive integer: the Telegram user id", user_name: "Name",
      language: "Language", open_chat: "Open chat",
      users_help: "Simulated users exist only in the sandbox; the first message creates one.",
      messages: "Chat history", start_hint: "This is a new chat with the bot.", start: "Start /start",
      menu: "Menu", commands: "Commands", attach: "Send a photo, video or file", message: "Message",
      composer_hint: "Enter sends, Shift+Enter adds a line", keyboard: "Keyboard buttons",
      record: "Record a video note", send: "Send", sms_heading: "SMS inbox",
      sms_help: "Text messages the bot sent through the sandbox SMS gateway (every number).",
      sms_empty: "No SMS yet", contact_title: "Share your phone number",
      contact_desc: "The bot asks for your contact. Type the phone number to share:", phone: "Phone number",
      cancel: "Cancel", share: "Share", attach_title: "Send a file", send_as: "Send as", photo: "Photo",
      video: "Video", video_note: "Video note (round)", document: "File", choose_file: "Choose a file",
      caption: "Caption (optional)", forwarded: "Send as a forwarded message",
      record_file: "Choose or shoot a video", record_start: "Start recording", record_stop: "Stop recording",
      record_retake: "Record again", bot_says: "Message from the bot", ok: "OK",
      pick_user_first: "Pick or create a simulated user first", placeholder: "Message", you: "You",
      bot: "Bot", edited: "edited", forwarded_tag: "Forwarded message", contact: "Contact",
      connecting: "Connecting…", reconnecting: "Connection lost, reconnecting…", online: "connected",
      working: "the bot is working", typing: "the bot is typing…", uploading: "the bot is sending a file…",
      lang_zh: "中文", lang_en: "English", bad_id: "The user ID must be a positive integer",
      bad_name: "Type a name", bad_phone: "Type a valid phone number", no_file: "Choose a file",
      send_failed: "Sending failed", no_commands: "The bot has set no commands",
      camera_unavailable: "This browser cannot record from the camera here (it needs HTTPS or localhost and camera permission). Choose or shoot a video file instead.",
      camera_denied: "Cannot open the camera: ", camera_ready: "Camera ready", recording: "Recording",
      recorded: "Recorded: ready to send", new_sms: "New SMS", use_code: "Use code", photo_alt: "Photo",
      video_alt: "Video", unsupported_button: "The sandbox does not support this button",
      location_unsupported: "The sandbox cannot share a location", history_loaded: "Chat history loaded",
      deleted: "A message was deleted", user_label: "User",
    },
  };
  let uiLang = "zh";
  const t = (key) => LABELS[uiLang][key] ?? LABELS.zh[key] ?? key;

  function applyLabels() {
    document.documentElement.lang = uiLang === "en" ? "en" : "zh-Hans";
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-aria]")) {
      el.setAttribute("aria-label", t(el.dataset.i18nAria));
    }
    updatePlaceholder();
    updateSubtitle();
  }

  // -- small helpers -----------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  };
  const fileUrl = (fileId) => `${API}/files/${encodeURIComponent(fileId)}`;
  const timeOf = (date) =>
    date ? new Date(date * 1000).toLocaleTimeString(uiLang === "en" ? "en-GB" : "zh-CN",
      { hour: "2-digit", minute: "2-digit" }) : "";

  function loadStore() {
    try { return JSON.parse(localStorage.getItem(STORE) || "{}"); } catch { return {}; }
  }
  function saveStore(patch) {
    try { localStorage.setItem(STORE, JSON.stringify({ ...loadStore(), ...patch })); } catch { /* private mode */ }
  }

  function toast(text, { error = false, ms = 4000 } = {}) {
    const box = error ? $("errors") : $("toasts");
    const item = el("div", { class: "toast", text });
    box.append(item);
    setTimeout(() => item.remove(), ms);
  }

  // -- Telegram HTML → DOM ------------------------------------------------------------------------

  const TAGS = {
    b: "b", strong: "b", i: "i", em: "i", u: "u", ins: "u", s: "s", strike: "s", del: "s",
    code: "code", pre: "pre", a: "a", blockquote: "blockquote", "tg-spoiler": "span", span: "span",
  };
  const TAG_RE = /<(\/?)([A-Za-z][A-Za-z0-9-]*)((?:\s[^<>]*)?)>/g;
  const ENTITY_RE = /&(lt|gt|amp|quot|apos|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});/g;
  const NAMED = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

  function decodeEntities(text) {
    return text.replace(ENTITY_RE, (whole, name) => {
      if (name in NAMED) return NAMED[name];
      const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      try { return String.fromCodePoint(code); } catch { return whole; }
    });
  }

  function attribute(attrs, name) {
    const re = new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'>]+))`, "i");
    const m = re.exec(attrs);
    return m ? decodeEntities(m[1] ?? m[2] ?? m[3] ?? "") : null;
  }

  function safeHref(href) {
    if (!href) return null;
    try {
      const url = new URL(href, location.href);
      return ["http:", "https:", "tg:", "mailto:", "tel:"].includes(url.protocol) ? url.href : null;
    } catch { return null; }
  }

  /** Append Telegram-HTML `source` to `container` as DOM nodes; unknown markup stays visible text. */
  function renderHtml(source, container) {
    const stack = [{ node: container, name: null }];
    const top = () => stack[stack.length - 1].node;
    const addText = (text) => { if (text) top().append(document.createTextNode(text)); };
    let last = 0;
    TAG_RE.lastIndex = 0;
    for (let m = TAG_RE.exec(source); m; m = TAG_RE.exec(source)) {
      addText(decodeEntities(source.slice(last, m.index)));
      last = TAG_RE.lastIndex;
      const [whole, closing, rawName, attrs] = m;
      const name = rawName.toLowerCase();
      const element = TAGS[name];
      const spoilerSpan = name === "span" && /class\s*=\s*["']?tg-spoiler/i.test(attrs);
      if (!element || (name === "span" && !closing && !spoilerSpan)) { addText(whole); continue; }
      if (closing) {
        const at = stack.map((entry) => entry.name).lastIndexOf(name);
        if (at > 0) stack.length = at; else addText(whole);
        continue;
      }
      const node = document.createElement(element);
      if (name === "a") {
        const href = safeHref(attribute(attrs, "href"));
        if (href) { node.href = href; node.target = "_blank"; node.rel = "noopener noreferrer"; }
      } else if (name === "tg-spoiler" || spoilerSpan) {
        node.className = "spoiler";
        node.tabIndex = 0;
        node.addEventListener("click", () => node.classList.toggle("shown"));
      }
      top().append(node);
      stack.push({ node, name });
    }
    addText(decodeEntities(source.slice(last)));
  }

  function renderText(msg, container) {
    if (msg.from === "bot" && msg.parse_mode === "HTML" && msg.raw_text != null) renderHtml(msg.raw_text, container);
    else container.textContent = msg.text || "";
  }

  // -- state -------------------------------------------------------------------------------------

  const state = {
    user: null,              // {id, first_name, language_code}
    messages: new Map(),     // message_id → message object of the control API
    nodes: new Map(),        // message_id → DOM node
    stream: null,
    streamGen: 0,
    snapshot: null,  // { held: [events] } while the chat's snapshot is being fetched
    live: false,             // history loaded: later changes are news
    pending: 0,
    keyboardHiddenFor: null, // message id whose one-time keyboard was used
    keyboardCollapsed: false,
    stick: true,             // keep the newest message in view (until the tester scrolls up)
    typingTimer: null,
    smsStream: null,
    smsSeen: new Set(),
    smsUnread: 0,
  };

  // -- sending -----------------------------------------------------------------------------------

  async function send(body, { files = null } = {}) {
    const user = state.user;
    if (!user) { openPanel("users-panel"); return null; }
    const url = `${API}/users/${user.id}/send`;
    let init;
    if (files) {
      const form = new FormData();
      for (const [key, value] of Object.entries(body)) if (value !== undefined && value !== "") form.append(key, value);
      for (const [field, [blob, name]] of Object.entries(files)) form.append(field, blob, name);
      form.append("first_name", user.first_name);
      form.append("language_code", user.language_code);
      init = { method: "POST", body: form };
    } else {
      init = {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ...body, first_name: user.first_name, language_code: user.language_code }),
      };
    }
    state.pending += 1;
    updateSubtitle();
    try {
      const response = await fetch(url, init);
      let answer = null;
      try { answer = await response.json(); } catch { /* not JSON */ }
      if (!response.ok || !answer || !answer.ok) {
        toast(`${t("send_failed")}: ${(answer && answer.error) || response.status}`, { error: true, ms: 8000 });
      }
      const callback = answer && answer.callback_answer;
      if (callback && callback.text) {
        if (callback.show_alert) showAlert(callback.text); else toast(callback.text);
      }
      if (callback && callback.url) {
        const href = safeHref(callback.url);
        if (href) toast(href, { ms: 8000 });
      }
      return answer;
    } catch (err) {
      toast(`${t("send_failed")}: ${err}`, { error: true, ms: 8000 });
      return null;
    } finally {
      state.pending -= 1;
      updateSubtitle();
      if (!document.activeElement || document.activeElement === document.body) focusComposer();
    }
  }

  function focusComposer() { $("composer-text").focus(); }

  // -- the chat stream ---------------------------------------------------------------------------

  function clearChat() {
    state.messages.clear();
    state.nodes.clear();
    $("messages").replaceChildren();
    state.keyboardHiddenFor = null;
    state.keyboardCollapsed = false;
    renderReplyKeyboard();
    $("start-pane").hidden = true;
    setTyping(null);
  }

  function connect() {
    if (state.stream) state.stream.close();
    const gen = ++state.streamGen;
    clearChat();
    state.live = false;
    state.snapshot = null;  // another chat's snapshot, or an older stream's, is not this one's
    $("messages").setAttribute("aria-busy", "true");
    updateSubtitle(t("connecting"));
    // replay=0 and then the snapshot: whatever happens in between arrives as an event numbered by the
    // chat's revision, and loadHistory applies only the events after the snapshot's revision.
    const stream = new EventSource(`${API}/users/${state.user.id}/events?replay=0`);
    state.stream = stream;
    stream.addEventListener("open", () => { if (gen === state.streamGen) loadHistory(gen); });
    stream.addEventListener("error", () => {
      if (gen !== state.streamGen) return;
      updateSubtitle(t("reconnecting"));
      if (stream.readyState === EventSource.CLOSED) setTimeout(() => { if (gen === state.streamGen) connect(); }, 2000);
    });
    for (const kind of ["new", "edited", "deleted"]) {
      stream.addEventListener(kind, (event) => {
        if (gen !== state.streamGen) return;
        let msg;
        try { msg = JSON.parse(event.data); } catch (err) { console.error("bad event", err); return; }
        // While a snapshot is on its way, hold the event: the snapshot may or may not include it.
        if (state.snapshot) state.snapshot.held.push({ msg, kind, revision: Number(event.lastEventId) });
        else upsert(msg, kind);
      });
    }
    stream.addEventListener("action", (event) => {
      if (gen !== state.streamGen) return;
      try { setTyping(JSON.parse(event.data).action); } catch { /* ignore */ }
    });
  }

  async function loadHistory(gen) {
    // Also after a reconnect: the snapshot is not news for a screen reader.
    $("messages").setAttribute("aria-busy", "true");
    // The stream is subscribed before this fetch, so every change is in the snapshot (revision at
    // most the snapshot's) or arrives as an event after it; the events that arrive first are held
    // and those the snapshot already shows are dropped. Applying them directly let the older
    // snapshot remove a reply sent in between, or bring back a message deleted in between.
    const pending = { held: [] };
    state.snapshot = pending;
    let revision = -1;
    try {
      const response = await fetch(`${API}/users/${state.user.id}/messages`);
      const body = await response.json();
      if (gen !== state.streamGen || state.snapshot !== pending) return;
      const snapshot = new Map(body.messages.map((msg) => [msg.message_id, msg]));
      // A reset of the sandbox forgets chats: drop what the snapshot no longer has.
      for (const id of [...state.messages.keys()]) if (!snapshot.has(id)) removeMessage(id);
      for (const msg of snapshot.values()) upsert(msg, "snapshot");
      revision = Number(body.revision);
    } catch (err) {
      console.error("history", err);
    } finally {
      if (state.snapshot === pending) {
        state.snapshot = null;
        // No snapshot (a failed fetch): every held event still applies, in order.
        for (const { msg, kind, revision: rev } of pending.held) if (!(rev <= revision)) upsert(msg, kind);
      }
      if (gen === state.streamGen) {
        state.live = true;
        $("messages").setAttribute("aria-busy", "false");
        updateSubtitle();
        updateStartPane();
        scrollToEnd(true);
        refreshUsers();
      }
    }
  }

  function upsert(msg, kind) {
    if (msg.deleted) { removeMessage(msg.message_id, kind === "deleted"); return; }
    const nearEnd = state.stick;
    const old = state.nodes.get(msg.message_id);
    const known = state.messages.get(msg.message_id);
    if (old && known && JSON.stringify(known) === JSON.stringify(msg)) return;  // a snapshot of the same
    state.messages.set(msg.message_id, msg);
    const focus = old ? focusInside(old) : null;
    const node = renderMessage(msg);
    state.nodes.set(msg.message_id, node);
    if (old) old.replaceWith(node);
    else insertInOrder(node, msg.message_id);
    if (focus) restoreFocus(node, focus);
    if (old && state.live && kind === "edited") {
      node.classList.add("flash");
      setTimeout(() => node.classList.remove("flash"), 1000);
    }
    if (msg.from === "bot" && !old) setTyping(null);
    if (!old && state.live && state.messages.size === 1) refreshUsers();  // the chat now exists
    if (msg.from === "bot" && (msg.reply_keyboard || msg.remove_keyboard)) state.keyboardCollapsed = false;
    renderReplyKeyboard();
    updatePlaceholder();
    updateStartPane();
    scrollToEnd(nearEnd || (msg.from === "user" && !old));
  }

  function removeMessage(id, announce = false) {
    const node = state.nodes.get(id);
    if (!node) { state.messages.delete(id); return; }
    const focus = focusInside(node);
    state.messages.delete(id);
    state.nodes.delete(id);
    node.remove();
    if (focus) focusComposer();
    if (announce && state.live) announce_(t("deleted"));
    renderReplyKeyboard();
    updateStartPane();
  }

  function insertInOrder(node, id) {
    const list = $("messages");
    let before = null;
    for (const [otherId, other] of state.nodes) {
      if (otherId > id && other !== node && other.isConnected && (!before || otherId < Number(before.dataset.id))) before = other;
    }
    list.insertBefore(node, before);
  }

  // Where focus was inside a message that is being re-rendered (its buttons may change on edit).
  function focusInside(node) {
    const active = document.activeElement;
    if (!active || !node.contains(active)) return null;
    const buttons = [...node.querySelectorAll(".kb-btn")];
    return { label: active.textContent, index: buttons.indexOf(active) };
  }

  function restoreFocus(node, where) {
    const buttons = [...node.querySelectorAll(".kb-btn")];
    const target = buttons.find((b) => b.textContent === where.label) || buttons[Math.max(0, where.index)] || buttons[0];
    if (target) { rovingSet(target); target.focus(); } else focusComposer();
  }

  // -- rendering messages ------------------------------------------------------------------------

  function renderMessage(msg) {
    const mine = msg.from === "user";
    const bubble = el("div", { class: "bubble" });
    bubble.append(el("span", { class: "visually-hidden", text: `${mine ? t("you") : t("bot")}: ` }));
    if (msg.forwarded) bubble.append(el("div", { class: "tag", text: t("forwarded_tag") }));
    const media = renderMedia(msg);
    if (media) bubble.append(media);
    if (msg.contact) {
      const c = msg.contact;
      bubble.append(el("div", { class: "contact-card" },
        el("span", { "aria-hidden": "true", text: "📞" }),
        el("span", { text: `${t("contact")}: ${[c.first_name, c.last_name].filter(Boolean).join(" ")} ${c.phone_number}` })));
    }
    if (msg.text || (msg.raw_text && msg.from === "bot")) {
      const text = el("div", { class: "text" });
      renderText(msg, text);
      bubble.append(text);
    }
    bubble.append(el("div", { class: "meta" },
      msg.edited ? el("span", { text: t("edited") }) : null,
      el("time", { datetime: msg.date ? new Date(msg.date * 1000).toISOString() : null, text: timeOf(msg.date) })));
    const node = el("article", {
      class: `msg ${mine ? "user" : "bot"}`, id: `m-${msg.message_id}`,
      "data-id": String(msg.message_id),
    }, bubble);
    if (msg.buttons && msg.buttons.length) node.append(renderInlineKeyboard(msg));
    return node;
  }

  function renderMedia(msg) {
    if (!msg.file_id) return null;
    const src = fileUrl(msg.file_id);
    if (msg.photo) {
      const img = el("img", { class: "media", src, alt: msg.text || t("photo_alt") });
      img.addEventListener("load", () => scrollToEnd(state.stick));
      return el("a", { class: "media-link", href: src, target: "_blank", rel: "noopener" }, img);
    }
    if (msg.video_note) {
      return el("video", { class: "media round-video", src, controls: true, playsinline: true, preload: "metadata",
        "aria-label": t("video_note") });
    }
    if (msg.video) {
      return el("video", { class: "media", src, controls: true, playsinline: true, preload: "metadata",
        "aria-label": t("video_alt") });
    }
    if (msg.document) {
      const doc = msg.document;
      return el("a", { class: "doc", href: src, download: doc.file_name || "file", target: "_blank" },
        el("span", { "aria-hidden": "true", text: "📄" }),
        el("span", { text: `${doc.file_name || t("document")} (${Math.ceil((doc.file_size || 0) / 1024)} KB)` }));
    }
    return null;
  }

  function renderInlineKeyboard(msg) {
    const group = el("div", { class: "inline-kb", role: "group", "aria-label": t("keyboard") });
    let first = true;
    for (const row of msg.buttons) {
      const line = el("div", { class: "kb-row" });
      for (const button of row) {
        let node;
        if (button.url) {
          const href = safeHref(button.url);
          node = el("a", { class: "kb-btn", href: href || "#", target: "_blank", rel: "noopener noreferrer" },
            button.text, el("span", { class: "ext", "aria-hidden": "true", text: "↗" }));
        } else {
          node = el("button", { type: "button", class: "kb-btn", text: button.text });
          if (button.callback_data == null) {
            node.disabled = true;
            node.title = t("unsupported_button");
          } else {
            node.addEventListener("click", () => pressInline(node, msg.message_id, button.callback_data));
          }
        }
        node.tabIndex = first ? 0 : -1;
        first = false;
        line.append(node);
      }
      group.append(line);
    }
    return group;
  }

  async function pressInline(node, messageId, data) {
    if (node.getAttribute("aria-busy") === "true") return;
    node.setAttribute("aria-busy", "true");
    try {
      await send({ callback_data: data, message_id: messageId });
    } finally {
      node.removeAttribute("aria-busy");
    }
  }

  // Inline keyboards are one tab stop each; the arrow keys move inside (WAI-ARIA toolbar pattern).
  function rovingSet(target) {
    const group = target.closest(".inline-kb");
    if (!group) return;
    for (const b of group.querySelectorAll(".kb-btn")) b.tabIndex = b === target ? 0 : -1;
  }

  function onKeyboardKeys(event) {
    const current = event.target.closest && event.target.closest(".inline-kb .kb-btn");
    if (!current) return;
    const buttons = [...current.closest(".inline-kb").querySelectorAll(".kb-btn")];
    const rows = [...current.closest(".inline-kb").querySelectorAll(".kb-row")].map((r) => [...r.children]);
    const at = buttons.indexOf(current);
    const rowAt = rows.findIndex((r) => r.includes(current));
    const colAt = rows[rowAt].indexOf(current);
    let next = null;
    switch (event.key) {
      case "ArrowRight": next = buttons[Math.min(at + 1, buttons.length - 1)]; break;
      case "ArrowLeft": next = buttons[Math.max(at - 1, 0)]; break;
      case "ArrowDown": if (rows[rowAt + 1]) next = rows[rowAt + 1][Math.min(colAt, rows[rowAt + 1].length - 1)]; break;
      case "ArrowUp": if (rows[rowAt - 1]) next = rows[rowAt - 1][Math.min(colAt, rows[rowAt - 1].length - 1)]; break;
      case "Home": next = buttons[0]; break;
      case "End": next = buttons[buttons.length - 1]; break;
      default: return;
    }
    event.preventDefault();
    if (next) { rovingSet(next); next.focus(); }
  }

  // -- reply keyboard, placeholder, typing, start ------------------------------------------------

  function currentKeyboardMessage() {
    const ids = [...state.messages.keys()].sort((a, b) => b - a);
    for (const id of ids) {
      const msg = state.messages.get(id);
      if (msg.from !== "bot") continue;
      if (msg.reply_keyboard) return msg;
      if (msg.remove_keyboard) return null;
    }
    return null;
  }

  function renderReplyKeyboard() {
    const box = $("reply-keyboard");
    const toggle = $("keyboard-toggle");
    const source = currentKeyboardMessage();
    const focused = box.contains(document.activeElement) ? document.activeElement.textContent : null;
    box.replaceChildren();
    if (!source) {
      box.hidden = true;
      toggle.hidden = true;
      if (focused !== null) focusComposer();
      return;
    }
    for (const row of source.reply_keyboard.keyboard) {
      const line = el("div", { class: "kb-row" });
      for (const button of row) {
        const icon = button.request_contact ? "📱 " : button.request_location ? "📍 " : "";
        const node = el("button", { type: "button", class: "kb-btn", text: button.text });
        if (icon && !button.text.startsWith(icon.trim())) node.prepend(el("span", { "aria-hidden": "true", text: icon }));
        node.addEventListener("click", () => pressReplyButton(source, button));
        line.append(node);
      }
      box.append(line);
    }
    const hidden = state.keyboardCollapsed || state.keyboardHiddenFor === source.message_id;
    box.hidden = hidden;
    toggle.hidden = false;
    toggle.setAttribute("aria-expanded", String(!hidden));
    if (focused !== null) {
      const again = !hidden && [...box.querySelectorAll("button")].find((b) => b.textContent === focused);
      if (again) again.focus(); else focusComposer();
    }
  }

  function pressReplyButton(source, button) {
    if (source.reply_keyboard.one_time_keyboard) state.keyboardHiddenFor = source.message_id;
    if (button.request_contact) { openContactDialog(); renderReplyKeyboard(); return; }
    if (button.request_location || button.request_poll || button.web_app || button.request_users || button.request_chat) {
      toast(button.request_location ? t("location_unsupported") : t("unsupported_button"));
      return;
    }
    renderReplyKeyboard();
    send({ text: button.text });
  }

  function updatePlaceholder() {
    const source = currentKeyboardMessage();
    let placeholder = source && source.reply_keyboard.input_field_placeholder;
    const ids = [...state.messages.keys()].sort((a, b) => b - a);
    const lastBot = ids.map((id) => state.messages.get(id)).find((m) => m.from === "bot");
    if (lastBot && lastBot.force_reply && lastBot.input_field_placeholder) placeholder = lastBot.input_field_placeholder;
    $("composer-text").placeholder = placeholder || t("placeholder");
  }

  function setTyping(action) {
    const box = $("typing");
    clearTimeout(state.typingTimer);
    if (!action || action === "cancel") { box.hidden = true; box.textContent = ""; return; }
    box.textContent = action === "typing" ? t("typing") : t("uploading");
    box.hidden = false;
    state.typingTimer = setTimeout(() => { box.hidden = true; box.textContent = ""; }, TYPING_MS);
  }

  function updateStartPane() {
    $("start-pane").hidden = !(state.user && state.live && state.messages.size === 0);
  }

  function updateSubtitle(status) {
    const sub = $("chat-subtitle");
    if (!state.user) { sub.textContent = t("pick_user_first"); sub.classList.remove("busy"); return; }
    const u = state.user;
    const lang = u.language_code === "en" ? t("lang_en") : t("lang_zh");
    const connection = status || (state.live ? "" : t("connecting"));
    const parts = [`${u.first_name} · #${u.id} · ${lang}`];
    if (connection) parts.push(connection);
    else if (state.pending > 0) parts.push(t("working"));
    sub.textContent = parts.join(" · ");
    sub.classList.toggle("busy", state.pending > 0);
  }

  function isNearEnd(margin = 120) {
    const list = $("messages");
    return list.scrollHeight - list.scrollTop - list.clientHeight < margin;
  }

  function scrollToEnd(really) {
    if (!really) return;
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
    state.stick = true;
  }

  function announce_(text) { toast(text, { ms: 2500 }); }

  // -- SMS inbox ---------------------------------------------------------------------------------

  const smsKey = (sms) => `${sms.sent_at}|${sms.phone}|${sms.text}`;

  function connectSms() {
    if (state.smsStream) state.smsStream.close();
    const stream = new EventSource(`${API}/sms/events`);
    state.smsStream = stream;
    stream.addEventListener("open", async () => {
      // Subscribed first, snapshot second (as for the chat): rebuilt from the snapshot, so a reset of
      // the sandbox empties the inbox too; events that raced it are deduplicated.
      try {
        const body = await (await fetch(`${API}/sms`)).json();
        $("sms-list").replaceChildren();
        state.smsSeen.clear();
        for (const sms of body.messages) addSms(sms, false);
        $("sms-empty").hidden = body.messages.length > 0;
      } catch (err) { console.error("sms", err); }
    });
    stream.addEventListener("sms", (event) => {
      try { addSms(JSON.parse(event.data), true); } catch (err) { console.error("sms event", err); }
    });
  }

  function addSms(sms, fresh) {
    const key = smsKey(sms);
    if (state.smsSeen.has(key)) return;
    state.smsSeen.add(key);
    const code = (sms.text.match(/(?<![0-9])[0-9]{4,8}(?![0-9])/) || [])[0];
    const when = sms.sent_at ? new Date(sms.sent_at) : null;
    const item = el("li", { class: `sms-item${fresh ? " fresh" : ""}` },
      el("header", {},
        el("span", { class: "sms-phone", text: sms.phone }),
        el("time", { datetime: sms.sent_at, text: when ? timeOf(when.getTime() / 1000) : "" })),
      el("p", { text: sms.text }));
    if (code) {
      item.append(el("button", {
        type: "button", text: `${t("use_code")} ${code}`,
        onclick: () => { const box = $("composer-text"); box.value = code; closePanels(); box.focus(); },
      }));
    }
    $("sms-list").prepend(item);
    $("sms-empty").hidden = true;
    if (fresh && !isPanelVisible("sms-panel")) {
      state.smsUnread += 1;
      const badge = $("sms-badge");
      badge.textContent = String(state.smsUnread);
      badge.hidden = false;
      toast(`${t("new_sms")} ${sms.phone}: ${sms.text}`, { ms: 6000 });
    }
  }

  // -- side panels (drawers on a phone) ----------------------------------------------------------

  const wide = window.matchMedia("(min-width: 960px)");
  const isPanelVisible = (id) => wide.matches || $(id).classList.contains("open");

  function openPanel(id) {
    if (wide.matches) {
      const field = $(id).querySelector("input, select") || $(id);
      field.focus();
      return;
    }
    closePanels(false);
    const panel = $(id);
    panel.classList.add("open");
    $("scrim").hidden = false;
    $("chat").inert = true;  // a modal drawer: Tab stays in the panel and the top bar
    const toggle = id === "users-panel" ? $("users-toggle") : $("sms-toggle");
    toggle.setAttribute("aria-expanded", "true");
    if (id === "sms-panel") { state.smsUnread = 0; $("sms-badge").hidden = true; }
    if (id === "users-panel") refreshUsers();
    const first = panel.querySelector("input, select, button:not(.panel-close)") || panel;
    setTimeout(() => first.focus(), 50);
  }

  function closePanels(returnFocus = true) {
    let closed = null;
    for (const id of ["users-panel", "sms-panel"]) {
      const panel = $(id);
      if (panel.classList.contains("open")) closed = id;
      panel.classList.remove("open");
    }
    $("users-toggle").setAttribute("aria-expanded", "false");
    $("sms-toggle").setAttribute("aria-expanded", "false");
    $("scrim").hidden = true;
    $("chat").inert = false;
    if (closed && returnFocus) (closed === "users-panel" ? $("users-toggle") : $("sms-toggle")).focus();
  }

  // -- users -------------------------------------------------------------------------------------

  async function refreshUsers() {
    try {
      const body = await (await fetch(`${API}/users`)).json();
      const select = $("user-select");
      const keep = select.value;
      select.replaceChildren(el("option", { value: "", text: t("new_user") }));
      for (const u of body.users.sort((a, b) => (b.last_date || 0) - (a.last_date || 0))) {
        const label = `${u.first_name} · #${u.id} (${u.language_code})`;  // the name first: it is what people look for
        select.append(el("option", { value: String(u.id), text: label, title: label,
          "data-name": u.first_name, "data-language": u.language_code }));
      }
      const want = state.user ? String(state.user.id) : keep;
      if ([...select.options].some((o) => o.value === want)) select.value = want;
      select.title = select.selectedOptions[0] ? select.selectedOptions[0].text : "";
      return body.users;
    } catch (err) { console.error("users", err); return []; }
  }

  function fillUserForm(user) {
    $("user-id").value = user ? String(user.id) : String(100000 + Math.floor(Math.random() * 900000));
    $("user-name").value = user ? user.first_name : (uiLang === "en" ? "Test user" : "测试用户");
    const language = user && user.language_code === "en" ? "en" : "zh-hans";
    for (const radio of document.querySelectorAll('input[name="language"]')) radio.checked = radio.value === language;
  }

  function onUserSelect() {
    const option = $("user-select").selectedOptions[0];
    if (!option || !option.value) { fillUserForm(null); return; }
    fillUserForm({ id: Number(option.value), first_name: option.dataset.name, language_code: option.dataset.language });
  }

  function onUserSubmit(event) {
    event.preventDefault();
    const error = $("user-error");
    const id = $("user-id").value.trim();
    const name = $("user-name").value.trim();
    error.hidden = true;
    $("user-id").removeAttribute("aria-invalid");
    $("user-name").removeAttribute("aria-invalid");
    if (!/^[0-9]{1,15}$/.test(id) || Number(id) < 1) {
      error.textContent = t("bad_id"); error.hidden = false;
      $("user-id").setAttribute("aria-invalid", "true"); $("user-id").focus(); return;
    }
    if (!name) {
      error.textContent = t("bad_name"); error.hidden = false;
      $("user-name").setAttribute("aria-invalid", "true"); $("user-name").focus(); return;
    }
    const language = document.querySelector('input[name="language"]:checked').value;
    chooseUser({ id: Number(id), first_name: name, language_code: language });
    closePanels(false);
    focusComposer();
  }

  function chooseUser(user) {
    const sameChat = state.user && state.user.id === user.id;
    state.user = user;
    uiLang = user.language_code === "en" ? "en" : "zh";
    saveStore({ user });
    const url = new URL(location.href);
    url.searchParams.set("user", String(user.id));
    history.replaceState(null, "", url);
    applyLabels();
    loadCommands();
    if (!sameChat || !state.stream) connect();
    // "扫一扫": `/?start=<token>` is the sandbox's t.me deep link; Telegram sends it as `/start <token>`.
    if (state.pendingStart) { send({ text: `/start ${state.pendingStart}` }); state.pendingStart = null; }
    else {
      // Same chat, maybe another language: redraw the labels inside the messages.
      for (const [id, node] of state.nodes) {
        const fresh = renderMessage(state.messages.get(id));
        node.replaceWith(fresh);
        state.nodes.set(id, fresh);
      }
      renderReplyKeyboard();
    }
  }

  // -- dialogs -----------------------------------------------------------------------------------

  function openDialog(dialog, opener) {
    dialog.returnTo = opener || document.activeElement;
    dialog.returnValue = "";
    dialog.showModal();
  }

  function wireDialog(dialog) {
    for (const form of dialog.querySelectorAll("form")) form.noValidate = true;
    for (const cancel of dialog.querySelectorAll("[data-cancel]")) cancel.addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("close", () => {
      // Cancelled: back where the tester was. Sent: on to the message box, as after typing.
      const back = ["send", "share"].includes(dialog.returnValue) ? null : dialog.returnTo;
      dialog.returnTo = null;
      if (back && back.isConnected && !back.hidden) back.focus(); else focusComposer();
    });
  }

  function showAlert(text) {
    $("alert-text").textContent = text;
    openDialog($("alert-dialog"));
  }

  // Contact sharing: what a request_contact button does in Telegram, with a number the tester types.
  function openContactDialog() {
    const input = $("contact-phone");
    const store = loadStore();
    input.value = (store.phones || {})[state.user.id] || "";
    $("contact-error").hidden = true;
    openDialog($("contact-dialog"), $("composer-text"));
    input.focus();
  }

  async function onContactSubmit(event) {
    event.preventDefault();
    const input = $("contact-phone");
    const phone = input.value.trim();
    if (!/^\+?[0-9][0-9 -]{4,19}$/.test(phone)) {
      $("contact-error").textContent = t("bad_phone");
      $("contact-error").hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    const phones = { ...(loadStore().phones || {}), [state.user.id]: phone };
    saveStore({ phones });
    $("contact-dialog").close("share");
    await send({ contact: { phone_number: phone } });
  }

  // Attachments: photo, video, video note or document from a file.
  function kindFor(file) {
    if (!file) return null;
    if (file.type.startsWith("image/")) return "photo";
    if (file.type.startsWith("video/")) return "video";
    return "document";
  }

  function openAttachDialog() {
    if (!state.user) { openPanel("users-panel"); return; }
    $("attach-form").reset();
    $("attach-preview").replaceChildren();
    $("attach-error").hidden = true;
    openDialog($("attach-dialog"), $("attach-button"));
  }

  function onAttachFile() {
    const file = $("attach-file").files[0];
    const preview = $("attach-preview");
    for (const old of preview.querySelectorAll("img, video")) URL.revokeObjectURL(old.src);
    preview.replaceChildren();
    if (!file) return;
    const current = document.querySelector('input[name="kind"]:checked').value;
    const guessed = kindFor(file);
    if (!(current === "video_note" && guessed === "video") && !(current === "document")) {
      for (const radio of document.querySelectorAll('input[name="kind"]')) radio.checked = radio.value === guessed;
    }
    const url = URL.createObjectURL(file);
    if (guessed === "photo") preview.append(el("img", { src: url, alt: file.name }));
    else if (guessed === "video") preview.append(el("video", { src: url, controls: true, muted: true, "aria-label": file.name }));
    else preview.append(el("p", { text: `${file.name} (${Math.ceil(file.size / 1024)} KB)` }));
  }

  async function onAttachSubmit(event) {
    event.preventDefault();
    const file = $("attach-file").files[0];
    if (!file) {
      $("attach-error").textContent = t("no_file");
      $("attach-error").hidden = false;
      $("attach-file").focus();
      return;
    }
    const kind = document.querySelector('input[name="kind"]:checked').value;
    const caption = kind === "video_note" ? "" : $("attach-caption").value.trim();
    const forwarded = $("attach-forwarded").checked ? "1" : "";
    $("attach-dialog").close("send");
    await send({ caption, forwarded }, { files: { [kind]: [file, file.name || `${kind}.bin`] } });
  }

  // Video notes from the webcam (MediaRecorder); a file input where the browser cannot record.
  const recorder = { stream: null, media: null, chunks: [], blob: null, started: 0, timer: null, url: null };
  const MAX_RECORD_MS = 60_000;

  function canRecord() {
    return window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
      typeof window.MediaRecorder === "function";
  }

  function recordMime(withAudio) {
    const choices = withAudio
      ? ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"]
      : ["video/webm;codecs=vp8", "video/webm", "video/mp4"];
    return choices.find((type) => MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(type)) || "";
  }

  async function openRecordDialog() {
    if (!state.user) { openPanel("users-panel"); return; }
    const dialog = $("record-dialog");
    const video = $("record-video");
    const status = $("record-status");
    resetRecording();
    $("record-fallback").hidden = true;
    $("record-file").value = "";
    $("record-toggle").hidden = false;
    $("record-toggle").disabled = true;
    $("record-toggle").textContent = t("record_start");
    $("record-send").disabled = true;
    video.hidden = false;
    openDialog(dialog, $("record-button"));
    if (!canRecord()) { useRecordFallback(t("camera_unavailable")); return; }
    try {
      try {
        recorder.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: true });
      } catch {
        recorder.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" } });
      }
      if (!dialog.open) { stopCamera(); return; }
      video.srcObject = recorder.stream;
      video.muted = true;
      await video.play().catch(() => {});
      status.textContent = t("camera_ready");
      $("record-toggle").disabled = false;
      $("record-toggle").focus();
    } catch (err) {
      useRecordFallback(`${t("camera_denied")}${err && err.message ? err.message : err}. ${t("record_file")}`);
    }
  }

  function useRecordFallback(text) {
    $("record-status").textContent = text;
    $("record-video").hidden = true;
    $("record-toggle").hidden = true;
    $("record-fallback").hidden = false;
    $("record-file").focus();
  }

  function resetRecording() {
    clearInterval(recorder.timer);
    if (recorder.url) URL.revokeObjectURL(recorder.url);
    Object.assign(recorder, { media: null, chunks: [], blob: null, started: 0, timer: null, url: null });
    const video = $("record-video");
    video.removeAttribute("src");
    video.controls = false;
    $("record-status").textContent = "";
  }

  function stopCamera() {
    if (recorder.stream) for (const track of recorder.stream.getTracks()) track.stop();
    recorder.stream = null;
    $("record-video").srcObject = null;
  }

  function toggleRecording() {
    const button = $("record-toggle");
    const video = $("record-video");
    if (recorder.media && recorder.media.state === "recording") { recorder.media.stop(); return; }
    if (recorder.blob) {
      // Record again: back to the live camera.
      resetRecording();
      video.srcObject = recorder.stream;
      video.muted = true;
      video.play().catch(() => {});
    }
    const mime = recordMime(recorder.stream.getAudioTracks().length > 0);
    const media = new MediaRecorder(recorder.stream, mime ? { mimeType: mime } : undefined);
    recorder.media = media;
    recorder.chunks = [];
    media.addEventListener("dataavailable", (event) => { if (event.data.size) recorder.chunks.push(event.data); });
    media.addEventListener("stop", () => {
      clearInterval(recorder.timer);
      recorder.blob = new Blob(recorder.chunks, { type: media.mimeType || mime || "video/webm" });
      recorder.url = URL.createObjectURL(recorder.blob);
      video.srcObject = null;
      video.src = recorder.url;
      video.controls = true;
      $("record-status").textContent = t("recorded");
      button.textContent = t("record_retake");
      $("record-send").disabled = false;
      $("record-send").focus();
    });
    media.start(250);
    recorder.started = Date.now();
    button.textContent = t("record_stop");
    $("record-send").disabled = true;
    const tick = () => {
      const seconds = Math.floor((Date.now() - recorder.started) / 1000);
      $("record-status").textContent = `● ${t("recording")} ${seconds}s / 60s`;
      if (Date.now() - recorder.started >= MAX_RECORD_MS && media.state === "recording") media.stop();
    };
    tick();
    recorder.timer = setInterval(tick, 1000);
  }

  async function onRecordSend() {
    const file = $("record-file").files[0];
    let blob = recorder.blob;
    let name = "video_note.webm";
    if (!blob && file) { blob = file; name = file.name || "video_note.mp4"; }
    if (!blob) return;
    if (!recorder.blob) name = name || "video_note.mp4";
    else if ((blob.type || "").includes("mp4")) name = "video_note.mp4";
    $("record-dialog").close("send");
    await send({}, { files: { video_note: [blob, name] } });
  }

  // -- commands menu -----------------------------------------------------------------------------

  let commands = [];

  async function loadCommands() {
    try {
      const body = await (await fetch(`${API}/commands`)).json();
      const lang = (state.user && state.user.language_code) || "";
      const table = body.by_language || {};
      commands = table[lang] || table[lang.split("-")[0]] || table[""] || [];
    } catch { commands = []; }
  }

  async function openMenu() {
    if (!state.user) { openPanel("users-panel"); return; }
    await loadCommands();
    const list = $("command-list");
    list.replaceChildren();
    const items = commands.length ? commands : [{ command: "start", description: "" }];
    for (const c of items) {
      list.append(el("li", {}, el("button", {
        type: "button",
        onclick: () => { $("menu-dialog").close(); send({ text: `/${c.command}` }); },
      }, el("strong", { text: `/${c.command}` }), el("span", { class: "desc", text: c.description || "" }))));
    }
    if (!commands.length) list.append(el("li", { class: "hint", text: t("no_commands") }));
    openDialog($("menu-dialog"), $("menu-button"));
  }

  // -- composer ----------------------------------------------------------------------------------

  function onComposerSubmit(event) {
    event.preventDefault();
    const box = $("composer-text");
    const text = box.value;
    if (!text.trim()) return;
    if (!state.user) { openPanel("users-panel"); return; }
    box.value = "";
    autosize();
    send({ text });
    box.focus();
  }

  function autosize() {
    const box = $("composer-text");
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight + 2, window.innerHeight * 0.4)}px`;
  }

  // -- start -------------------------------------------------------------------------------------

  function init() {
    applyLabels();
    $("composer").addEventListener("submit", onComposerSubmit);
    $("composer-text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("composer").requestSubmit();
      }
    });
    $("composer-text").addEventListener("input", autosize);
    $("messages").addEventListener("keydown", onKeyboardKeys);
    $("messages").addEventListener("scroll", () => { state.stick = isNearEnd(); }, { passive: true });
    $("messages").addEventListener("focusin", (event) => {
      if (event.target.matches && event.target.matches(".inline-kb .kb-btn")) rovingSet(event.target);
    });
    $("start-button").addEventListener("click", () => send({ text: "/start" }));
    $("menu-button").addEventListener("click", openMenu);
    $("attach-button").addEventListener("click", openAttachDialog);
    $("record-button").addEventListener("click", openRecordDialog);
    $("keyboard-toggle").addEventListener("click", () => {
      const box = $("reply-keyboard");
      const show = box.hidden;
      state.keyboardCollapsed = !show;
      const source = currentKeyboardMessage();
      if (show && source && state.keyboardHiddenFor === source.message_id) state.keyboardHiddenFor = null;
      renderReplyKeyboard();
      if (show) { const first = box.querySelector("button"); if (first) first.focus(); }
    });

    for (const dialog of document.querySelectorAll("dialog")) wireDialog(dialog);
    $("contact-form").addEventListener("submit", onContactSubmit);
    $("attach-form").addEventListener("submit", onAttachSubmit);
    $("attach-file").addEventListener("change", onAttachFile);
    for (const radio of document.querySelectorAll('input[name="kind"]')) {
      radio.addEventListener("change", () => {
        $("attach-file").accept = radio.value === "photo" ? "image/*" : radio.value === "document" ? "" : "video/*";
      });
    }
    $("record-toggle").addEventListener("click", toggleRecording);
    $("record-send").addEventListener("click", onRecordSend);
    $("record-file").addEventListener("change", () => { $("record-send").disabled = !$("record-file").files.length; });
    $("record-dialog").addEventListener("close", () => {
      if (recorder.media && recorder.media.state === "recording") recorder.media.stop();
      stopCamera();
    });

    $("users-toggle").addEventListener("click", () => {
      if ($("users-panel").classList.contains("open")) closePanels(); else openPanel("users-panel");
    });
    $("sms-toggle").addEventListener("click", () => {
      if ($("sms-panel").classList.contains("open")) closePanels(); else openPanel("sms-panel");
    });
    for (const button of document.querySelectorAll("[data-close]")) button.addEventListener("click", () => closePanels());
    $("scrim").addEventListener("click", () => closePanels());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !document.querySelector("dialog[open]") &&
          document.querySelector(".panel.open")) closePanels();
    });
    wide.addEventListener("change", () => closePanels(false));

    $("user-form").addEventListener("submit", onUserSubmit);
    $("user-select").addEventListener("change", onUserSelect);
    $("user-select").addEventListener("change", (event) => {
      const select = event.target;
      select.title = select.selectedOptions[0] ? select.selectedOptions[0].text : "";
    });
    $("users-refresh").addEventListener("click", refreshUsers);

    connectSms();
    const usersLoaded = refreshUsers();
    const here = new URL(location.href);
    const startParam = here.searchParams.get("start");
    if (startParam && /^[A-Za-z0-9_-]{1,64}$/.test(startParam)) state.pendingStart = startParam;
    here.searchParams.delete("start");
    history.replaceState(null, "", here);
    const store = loadStore();
    const fromUrl = Number(new URL(location.href).searchParams.get("user"));
    const saved = store.user && (!fromUrl || store.user.id === fromUrl) ? store.user : null;
    if (saved) {
      fillUserForm(saved);
      chooseUser(saved);
    } else if (fromUrl > 0) {
      // ?user=ID: a user the sandbox knows keeps their name and language (the next send carries them,
      // so a default here would rename them and switch the bot's answers to Chinese).
      usersLoaded.then((users) => {
        const known = users.find((u) => u.id === fromUrl);
        const user = known
          ? { id: known.id, first_name: known.first_name, language_code: known.language_code }
          : { id: fromUrl, first_name: `User ${fromUrl}`, language_code: "zh-hans" };
        fillUserForm(user);
        chooseUser(user);
      });
    } else {
      fillUserForm(null);
      $("messages").setAttribute("aria-busy", "false");
      openPanel("users-panel");
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
