// Live progress of an integrity check: polls the console's progress
// endpoint while the check runs, updates the progress bar and counts, and
// reloads the page once the check has completed or failed.
const box = document.getElementById("check");
if (box && box.dataset.status === "running") {
  const bar = document.getElementById("check-progress");
  const status = document.getElementById("check-status");
  const scanned = document.getElementById("check-scanned");
  const total = document.getElementById("check-total");
  const violations = document.getElementById("check-violations");
  const poll = async () => {
    try {
      const res = await fetch(box.dataset.progressUrl, {
        credentials: "same-origin", headers: { "Accept": "application/json", "X-Requested-With": "fetch" },
      });
      if (res.ok) {
        const p = await res.json();
        if (p.files_total > 0) {
          bar.max = p.files_total;
          bar.value = p.files_scanned;
        }
        bar.textContent = p.files_scanned + " of " + p.files_total;
        scanned.textContent = p.files_scanned;
        total.textContent = p.files_total;
        violations.textContent = p.violations_found;
        status.textContent = p.status;
        if (p.status !== "running") {
          // The notice of the start ("check started") is over.
          const done = new URL(location.href);
          done.searchParams.delete("notice");
          location.replace(done.href);
          return;
        }
      }
    } catch (err) {
      // The next poll tries again.
    }
    setTimeout(poll, 500);
  };
  setTimeout(poll, 250);
}
