/* OpenMessenger visitor chat.  Same-origin JSON API; the chat token lives in
   sessionStorage (no cookies), so a reload picks up where the page left off. */
(function () {
  "use strict";
  var root = document.getElementById("chat");
  var texts = JSON.parse(root.dataset.texts);
  var parameters = JSON.parse(root.dataset.parameters);
  var key = "openmessenger-chat:" + root.dataset.company;
  var state = JSON.parse(sessionStorage.getItem(key) || "null");
  var lastActivity = Date.now();
  var typingSent = false;

  function t(text, values) {
    var out = texts[text] || text;
    Object.keys(values || {}).forEach(function (k) { out = out.replace("{" + k + "}", values[k]); });
    return out;
  }
  function $(id) { return document.getElementById(id); }
  function show(id, visible) { $(id).hidden = !visible; }
  function save() { sessionStorage.setItem(key, JSON.stringify(state)); }
  function post(path, body) {
    return fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                        body: JSON.stringify(body)})
      .then(function (r) { return r.json(); })
      .catch(function () { return {error: t("Something went wrong; please try again.")}; });
  }
  function line(who, text, kind) {
    var item = document.createElement("li");
    item.className = kind;
    if (who) {
      var name = document.createElement("strong");
      name.textContent = who + ": ";
      item.appendChild(name);
    }
    item.appendChild(document.createTextNode(text));   // text, never markup
    $("log").appendChild(item);
    item.scrollIntoView({block: "end"});
  }
  function handle(event) {
    if (event.kind === "message") {
      line(event.from === "visitor" ? t("You") : state.supporterName, event.text, event.from);
      show("typing", false);
    } else if (event.kind === "system" && event.from === "supporter") {
      state.supporterName = event.text;
      line("", t("You are talking to {name}.", {name: event.text}), "system");
    } else if (event.kind === "system" && event.from === "moved") {
      line("", t("Your colleague is no longer available; we are looking for someone else."), "system");
    } else if (event.kind === "system" && event.from === "nobody") {
      line("", t("Nobody is available right now. Leave a message:"), "system");
      offline();
    } else if (event.kind === "typing") {
      $("typing").textContent = t("{name} is typing…", {name: state.supporterName || ""});
      show("typing", event.text === "composing");
    } else if (event.kind === "ended") {
      line("", t("The chat has ended."), "system");
      ended();
    }
    state.after = event.seq;
  }
  function ended() {
    show("say", false); show("end", false);
    state.ended = true; save();
  }
  function poll() {
    if (!state || state.ended) { return; }
    var idle = Math.floor((Date.now() - lastActivity) / 1000);
    fetch("/chat/api/" + state.token + "/events?after=" + state.after + "&idle=" + idle)
      .then(function (r) { if (r.status === 404) { throw "gone"; } return r.json(); })
      .then(function (answer) {
        answer.events.forEach(handle);
        save();
        if (answer.ended) { ended(); } else { poll(); }
      })
      .catch(function (e) {
        if (e === "gone") { sessionStorage.removeItem(key); return; }
        setTimeout(poll, 3000);
      });
  }
  function begin() {
    show("start", false); show("conversation", true);
    $("log").textContent = "";
    state.after = 0;  // the log starts afresh: fetch it all again
    poll();
  }
  function offline() {
    show("start", false); show("conversation", false); show("offline", true);
    $("offline-note").textContent = t("Nobody is available right now. Leave a message:");
  }
  ["mousemove", "keydown", "focus", "touchstart"].forEach(function (name) {
    window.addEventListener(name, function () { lastActivity = Date.now(); }, {passive: true});
  });
  $("start").addEventListener("submit", function (e) {
    e.preventDefault();
    var form = e.target;
    post("/chat/start", {company: root.dataset.company, supporter: root.dataset.supporter,
                         name: form.name.value, email: form.email.value,
                         parameters: parameters, referrer: root.dataset.referrer})
      .then(function (answer) {
        if (answer.error) { $("notice").textContent = answer.error; return; }
        state = {token: answer.token, after: 0, name: form.name.value, email: form.email.value};
        save();
        if (!answer.available) { offline(); return; }
        begin();
      });
  });
  $("say").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = e.target.text;
    post("/chat/api/" + state.token + "/say", {text: input.value}).then(function (answer) {
      if (answer.error) { $("notice").textContent = answer.error; } else { input.value = ""; typingSent = false; }
    });
  });
  $("say").text.addEventListener("input", function (e) {
    var composing = e.target.value.length > 0;
    if (composing !== typingSent) {
      typingSent = composing;
      post("/chat/api/" + state.token + "/typing", {composing: composing});
    }
  });
  $("end").addEventListener("click", function () {
    post("/chat/api/" + state.token + "/close", {});
  });
  $("offline").addEventListener("submit", function (e) {
    e.preventDefault();
    var name = (state && state.name) || document.querySelector("#start [name=name]").value;
    post("/chat/offline", {company: root.dataset.company, name: name,
                           email: (state && state.email) || "", text: e.target.text.value,
                           parameters: parameters})
      .then(function (answer) {
        $("notice").textContent = answer.error ? answer.error : t("Thank you, your message was sent.");
        if (!answer.error) { show("offline", false); }
      });
  });
  if (state && state.ended) {
    // A finished chat stays finished; this window may start a new one.
    sessionStorage.removeItem(key);
    state = null;
  }
  if (state && state.token) { begin(); }
}());
