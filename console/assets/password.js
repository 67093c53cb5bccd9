// Password check: the password is hashed here (WebCrypto SHA-1); only the
// first 5 hex digits of the hash go to the server, which answers the
// suffixes of breached hashes sharing them; the comparison is made here.
const form = document.getElementById("password-check");
const input = document.getElementById("pw");
const out = document.getElementById("pw-result");
const api = document.body.dataset.api;

function show(text, kind) {
  out.textContent = text;
  out.className = "result " + (kind || "");
}

async function sha1Hex(text) {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!window.crypto || !crypto.subtle) {
    show("This browser cannot hash here (WebCrypto needs HTTPS or localhost).", "bad");
    return;
  }
  show("Checking…");
  try {
    const hash = await sha1Hex(input.value);
    const prefix = hash.slice(0, 5), suffix = hash.slice(5);
    const res = await fetch(api + "/password-breach-check?hash_prefix=" + prefix, {
      credentials: "same-origin", headers: { "Accept": "application/json", "X-Requested-With": "fetch" },
    });
    const body = await res.json().catch(() => null);
    if (res.status === 404) {
      show("The check could not be made: this server has no breach data source configured.", "bad");
      return;
    }
    if (!res.ok || !body || !body.success) {
      show("The check could not be made: " + ((body && body.message) || res.status) + ".", "bad");
      return;
    }
    const hit = (body.data.suffixes || []).find((e) => e.suffix.toUpperCase() === suffix && e.count > 0);
    if (hit) {
      show("Breached: this password appears " + hit.count.toLocaleString() + " time(s) in known breaches. Do not use it.", "bad");
    } else {
      show("Not found in known breaches.", "good");
    }
  } catch (err) {
    show("The check could not be made: " + err.message + ".", "bad");
  }
});
