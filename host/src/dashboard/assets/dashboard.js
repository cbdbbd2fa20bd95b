// Live updates for Warbler's dashboard. The server renders every page; this
// script only keeps it current from /api/v1/events (server-sent events). It
// writes text with textContent and swaps in HTML the server escaped, so
// nothing a canary, a policy or a webhook wrote can become markup here.
"use strict";

(() => {
  const page = document.body.dataset.page;
  const key = document.body.dataset.key;
  const live = document.getElementById("live");
  const fields = ["namespace", "name", "phase", "weight", "failedChecks",
    "lastTransitionTime", "policy", "lastVerdict"];

  const keyOf = (canary) => `${canary.namespace}/${canary.name}`;
  const pathOf = (canary) =>
    `/canaries/${encodeURIComponent(canary.namespace)}/${encodeURIComponent(canary.name)}`;

  const phaseClass = (phase) => ({
    Succeeded: "phase ok", Failed: "phase bad", Progressing: "phase busy",
    Promoting: "phase busy", Finalising: "phase busy", WaitingPromotion: "phase busy",
  })[phase] || "phase";

  const textOf = (canary, field) => {
    switch (field) {
      case "weight": return `${canary.weight}%`;
      case "failedChecks": return `${canary.failedChecks}/${canary.threshold}`;
      case "lastVerdict": return canary.lastVerdict || "—";
      default: return String(canary[field]);
    }
  };

  function upsertRow(canary) {
    const body = document.querySelector("#canaries tbody");
    let row = Array.from(body.rows).find((r) => r.dataset.key === keyOf(canary));
    if (!row) {
      row = document.createElement("tr");
      row.dataset.key = keyOf(canary);
      for (const field of fields) {
        const cell = document.createElement("td");
        cell.dataset.field = field;
        if (field === "name") cell.append(document.createElement("a"));
        row.append(cell);
      }
      body.append(row);
      document.getElementById("empty")?.remove();
    }
    for (const field of fields) {
      const cell = row.querySelector(`[data-field="${field}"]`);
      if (field === "name") {
        const link = cell.querySelector("a");
        link.href = pathOf(canary);
        link.textContent = canary.name;
      } else {
        cell.textContent = textOf(canary, field);
      }
      if (field === "phase") cell.className = phaseClass(canary.phase);
    }
  }

  function removeRow(canary) {
    const body = document.querySelector("#canaries tbody");
    Array.from(body.rows).find((r) => r.dataset.key === keyOf(canary))?.remove();
  }

  async function reloadList() {
    const answer = await fetch("/api/v1/canaries", { cache: "no-store" });
    const { items } = await answer.json();
    const keys = new Set(items.map(keyOf));
    for (const row of Array.from(document.querySelectorAll("#canaries tbody tr"))) {
      if (!keys.has(row.dataset.key)) row.remove();
    }
    items.forEach(upsertRow);
  }

  // One refresh of a canary page at a time; a change during one asks for
  // another once it is done.
  let refreshing = false;
  let again = false;
  async function refreshCanary() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const url = new URL(window.location.href);
      url.searchParams.set("part", "main");
      const answer = await fetch(url, { cache: "no-store" });
      if (answer.ok) document.getElementById("main").innerHTML = await answer.text();
    } finally {
      refreshing = false;
      if (again) { again = false; refreshCanary(); }
    }
  }

  const events = new EventSource("/api/v1/events");
  events.addEventListener("open", () => { live.textContent = "live"; live.className = "live on"; });
  events.addEventListener("error", () => { live.textContent = "reconnecting…"; live.className = "live"; });
  events.addEventListener("canary", (event) => {
    const canary = JSON.parse(event.data);
    if (page === "list") upsertRow(canary);
    else if (page === "canary" && keyOf(canary) === key) refreshCanary();
  });
  events.addEventListener("removed", (event) => {
    const canary = JSON.parse(event.data);
    if (page === "list") removeRow(canary);
    else if (page === "canary" && keyOf(canary) === key) live.textContent = "this canary was deleted";
  });
  events.addEventListener("reload", () => {
    if (page === "list") reloadList();
    else if (page === "canary") refreshCanary();
  });
})();
