// The demo e-tax website's page: asks its own backend (/portal/api/...) for a handoff, shows the QR code
// and the short code, polls until the handoff ends. The backend holds the API key and checks the
// signature; the page never talks to the bot.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 1000;
  let current = null;
  let timer = null;

  const FAILURES = {
    declined: "用户在 App 中拒绝了本次请求", cancelled: "用户在 App 中取消了办理",
    document_mismatch: "证件与要求办理的证件不一致", face_not_passed: "刷脸验证未通过",
    no_live_photo: "缺少现场照片，请先补采", collection_unavailable: "App 中无法开始采集",
  };
  const DOCUMENTS = { resident_id: "居民身份证", hk_macau_permit: "港澳居民来往内地通行证", taiwan_permit: "台湾居民来往大陆通行证", hmt_residence_permit: "港澳台居民居住证" };
  const METHODS = { collection: "实名信息采集（证件 + 短信验证码 + 活体人脸比对）", face_stepup: "刷脸验证（与留存现场照片比对）" };

  function setStatus(text, kind = "") {
    const node = $("status");
    node.textContent = text;
    node.className = `status ${kind}`;
  }

  async function login() {
    clearTimeout(timer);
    $("result").hidden = true;
    setStatus("正在获取二维码…");
    const purpose = document.querySelector('input[name="purpose"]:checked').value;
    const response = await fetch("/portal/api/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ purpose, expected_document_number: $("expected").value.trim() || null }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok || !answer.ok) { setStatus(`获取二维码失败：${answer.error || response.status}`, "bad"); return; }
    current = answer;
    const img = document.createElement("img");
    img.src = `data:image/png;base64,${answer.qr_png_base64}`;
    img.alt = "登录二维码";
    img.id = "qr-image";
    img.dataset.deepLink = answer.deep_link;
    $("qr").replaceChildren(img);
    $("short-code").textContent = answer.short_code;
    const user = $("sim-user").value.trim();
    $("scan").href = /^[0-9]{1,15}$/.test(user) ? `${answer.web_chat_link}&user=${user}` : answer.web_chat_link;
    $("qr-box").hidden = false;
    setStatus("等待扫码…");
    poll();
  }

  function countdown() {
    const left = Math.max(0, Math.round((Date.parse(current.expires_at) - Date.now()) / 1000));
    $("countdown").textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  }

  async function poll() {
    if (!current) return;
    countdown();
    let view = null;
    try {
      const response = await fetch(`/portal/api/handoff/${encodeURIComponent(current.id)}`);
      view = await response.json();
    } catch { /* the next poll retries */ }
    if (view && view.ok) {
      if (show(view)) return;
    }
    timer = setTimeout(poll, POLL_MS);
  }

  // True when the handoff is over (nothing more to poll).
  function show(view) {
    switch (view.state) {
      case "waiting": setStatus("等待扫码…"); return false;
      case "opened": setStatus("已扫码，请在 App 中核对验证码并确认"); return false;
      case "in_progress": setStatus("请在 App 中继续办理…"); return false;
      case "expired":
        $("qr-box").hidden = true;
        setStatus("二维码已过期，请点击“获取二维码”刷新", "bad");
        return true;
      case "failed":
        $("qr-box").hidden = true;
        setStatus(`办理未完成：${FAILURES[view.reason] || view.reason || ""}`, "bad");
        return true;
      case "done": {
        $("qr-box").hidden = true;
        const claims = view.claims || {};
        setStatus(claims.method === "face_stepup" ? "刷脸验证成功" : "实名采集成功", view.verified ? "ok" : "bad");
        $("result-title").textContent = "网站收到的结果";
        const person = claims.person || {};
        const rows = [
          ["姓名", person.name], ["证件号码", person.document_number], ["证件类型", DOCUMENTS[claims.document_type] || claims.document_type],
          ["人员标识", claims.person_ref], ["完成时间", claims.completed_at], ["核验方式", METHODS[claims.method] || claims.method],
        ];
        $("result-fields").replaceChildren(...rows.flatMap(([k, v]) => {
          const dt = document.createElement("dt"); dt.textContent = k;
          const dd = document.createElement("dd"); dd.textContent = v == null ? "" : String(v);
          return [dt, dd];
        }));
        $("verified").textContent = view.verified
          ? `签名已验证（EdDSA / Ed25519，公钥来自 /handoff/keys）${view.callback_received ? "；已收到回调" : ""}`
          : "⚠️ 签名验证失败：不可信的结果";
        $("result").hidden = false;
        return true;
      }
      default: return false;
    }
  }

  $("login").addEventListener("click", login);
})();
