// The client side of propsec's passkey endpoints, as a host page would
// write it: no inline script (the page's CSP allows 'self' only), the
// options from the API parsed with PublicKeyCredential's JSON helpers, the
// credential posted back with toJSON(). The browser test calls window.pk.
"use strict";

(function () {
  async function call(method, path, body, csrf) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const r = await fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    return { status: r.status, body: await r.json() };
  }

  async function csrf() {
    const r = await call("GET", "/api/security/csrf-token");
    return r.body.data.token;
  }

  // create runs navigator.credentials.create with the API's options.
  async function create(options) {
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey);
    const cred = await navigator.credentials.create({ publicKey: publicKey });
    return cred.toJSON();
  }

  // get runs navigator.credentials.get; allow, when given, replaces the
  // allowed credential ids (a tampering client).
  async function get(options, allow) {
    const json = Object.assign({}, options.publicKey);
    if (allow) json.allowCredentials = allow.map((id) => ({ type: "public-key", id: id }));
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(json);
    const cred = await navigator.credentials.get({ publicKey: publicKey });
    return cred.toJSON();
  }

  async function login(email, password) {
    return call("POST", "/login", { email: email, password: password });
  }

  async function register(name) {
    const begin = await call("POST", "/api/security/passkeys", { action: "register_begin" }, await csrf());
    if (begin.status !== 200) return begin;
    const credential = await create(begin.body.data.options);
    return call("POST", "/api/security/passkeys", {
      action: "register_finish",
      ceremony_id: begin.body.data.ceremony_id,
      name: name,
      credential: credential,
    }, await csrf());
  }

  // beginVerify starts the assertion of a pending login and answers it
  // with the authenticator; finishVerify posts it.
  async function beginVerify(verificationId, allow) {
    const begin = await call("POST", "/api/security/passkey-verification", {
      action: "begin",
      verification_id: verificationId,
    });
    if (begin.status !== 200) return { begin: begin };
    const credential = await get(begin.body.data.options, allow);
    return { begin: begin, ceremony_id: begin.body.data.ceremony_id, credential: credential };
  }

  async function finishVerify(verificationId, started) {
    return call("POST", "/api/security/passkey-verification", {
      action: "finish",
      verification_id: verificationId,
      ceremony_id: started.ceremony_id,
      credential: started.credential,
    });
  }

  async function verify(verificationId) {
    const started = await beginVerify(verificationId);
    if (!started.credential) return started.begin;
    const done = await finishVerify(verificationId, started);
    window.pk.last = started;
    return done;
  }

  // passkeyLogin logs in with a discoverable passkey alone.
  async function passkeyLogin() {
    const begin = await call("POST", "/api/security/passkey-login", { action: "begin" });
    if (begin.status !== 200) return begin;
    const credential = await get(begin.body.data.options);
    return call("POST", "/api/security/passkey-login", {
      action: "finish",
      ceremony_id: begin.body.data.ceremony_id,
      credential: credential,
    });
  }

  window.pk = {
    passkeyLogin: passkeyLogin,
    call: call,
    login: login,
    register: register,
    beginVerify: beginVerify,
    finishVerify: finishVerify,
    verify: verify,
    list: () => call("GET", "/api/security/passkeys"),
  };
  document.getElementById("status").textContent = "ready";
})();
