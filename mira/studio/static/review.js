// The review queue's keyboard: a accept, r reject, p positive, n negative, u unsure, j / k next / previous.
// Each decision is POSTed at once (the server writes it as a new label version) before moving on.
(function () {
  const item = document.getElementById("item");
  if (!item) return;
  const note = document.getElementById("note");
  const status = document.getElementById("status");
  const keys = { a: "accept", r: "reject", p: "positive", n: "negative", u: "unsure" };
  const i = Number(item.dataset.i), n = Number(item.dataset.n);
  function go(k) { if (k >= 0 && k < n) window.location.search = "?i=" + k; }
  async function decide(decision) {
    status.textContent = "saving " + decision + "…";
    const res = await fetch("/api/label", {
      method: "POST", headers: { "Content-Type": "application/json", "X-Mira-Studio": "1" },
      body: JSON.stringify({ target: item.dataset.target, item_id: item.dataset.item, decision: decision, note: note.value }),
    });
    if (!res.ok) { status.textContent = "not saved: " + (await res.text()); return; }
    const out = await res.json();
    document.getElementById("current").textContent = decision;
    document.getElementById("label-version").textContent = out.version;
    status.textContent = "saved in " + out.version;
    if (i + 1 < n) go(i + 1);
  }
  document.querySelectorAll("button[data-decision]").forEach(function (b) {
    b.addEventListener("click", function () { decide(b.dataset.decision); });
  });
  document.addEventListener("keydown", function (e) {
    if (e.target === note) { if (e.key === "Escape") note.blur(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (keys[e.key]) { e.preventDefault(); decide(keys[e.key]); }
    else if (e.key === "j") go(i + 1);
    else if (e.key === "k") go(i - 1);
  });
})();
