// Passkeys: sign-in verification on the verify page and registration on
// the Security view, through the adapter's passkey endpoints. The options
// come from the server as JSON and the credential goes back as JSON
// (PublicKeyCredential.parse…OptionsFromJSON and toJSON).
const api = document.body.dataset.api;
const out = document.getElementById("passkey-result");

function show(text, kind) {
  out.textContent = text;
  out.className = "result " + (kind || "");
}

async function call(path, body, csrf) {
  const headers = { "Accept": "application/json", "Content-Type": "application/json", "X-Requested-With": "fetch" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const res = await fetch(api + path, { method: "POST", credentials: "same-origin", headers, body: JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok || !data || !data.success) {
    throw new Error((data && data.message) || ("the server answered " + res.status));
  }
  return data.data;
}

// csrfToken fetches a single-use token of the API for the next write.
async function csrfToken() {
  const res = await fetch(api + "/csrf-token", { credentials: "same-origin", headers: { "Accept": "application/json", "X-Requested-With": "fetch" } });
  const data = await res.json().catch(() => null);
  if (!res.ok || !data || !data.success) throw new Error("no CSRF token (" + res.status + ")");
  return data.data.token;
}

function supported() {
  if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
    show("This browser cannot use passkeys here.", "bad");
    return false;
  }
  return true;
}

function failed(err) {
  const cancelled = err && (err.name === "NotAllowedError" || err.name === "AbortError");
  show(cancelled ? "Cancelled or timed out. Try again." : "That did not work: " + err.message, "bad");
}

const verify = document.getElementById("passkey-verify");
if (verify) {
  verify.addEventListener("click", async () => {
    if (!supported()) return;
    const id = verify.dataset.verificationId;
    show("Waiting for your passkey…");
    try {
      const begun = await call("/passkey-verification", { action: "begin", verification_id: id });
      const opts = PublicKeyCredential.parseRequestOptionsFromJSON(begun.options.publicKey);
      const cred = await navigator.credentials.get({ publicKey: opts });
      await call("/passkey-verification", { action: "finish", verification_id: id, ceremony_id: begun.ceremony_id, credential: cred.toJSON() });
      show("Verified. Opening the console…", "good");
      location.assign(verify.dataset.next);
    } catch (err) {
      failed(err);
    }
  });
}

const register = document.getElementById("passkey-register");
if (register) {
  register.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!supported()) return;
    show("Follow your browser's prompt…");
    try {
      const begun = await call("/passkeys", { action: "register_begin" }, await csrfToken());
      const opts = PublicKeyCredential.parseCreationOptionsFromJSON(begun.options.publicKey);
      const cred = await navigator.credentials.create({ publicKey: opts });
      await call("/passkeys", { action: "register_finish", ceremony_id: begun.ceremony_id,
        name: document.getElementById("pk-name").value.trim(), credential: cred.toJSON() }, await csrfToken());
      location.assign(register.dataset.next);
    } catch (err) {
      failed(err);
    }
  });
}
