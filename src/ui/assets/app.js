// hookd console enhancements. Every page works without this file; it only adds comfort.
"use strict";

// Times: the page shows UTC; show them in the browser's time zone.
function localTimes(root) {
  for (const t of root.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.textContent = d.toLocaleString(); t.title = t.getAttribute("datetime"); }
  }
  // Date-time fields are local: tell the server the offset (minutes behind UTC).
  for (const tz of root.querySelectorAll("input[data-tz]")) {
    tz.value = String(new Date().getTimezoneOffset());
  }
}

// Copy buttons: data-copy names the element whose text is copied.
function copyButtons(root) {
  for (const b of root.querySelectorAll("button[data-copy]")) {
    b.hidden = false;
    b.addEventListener("click", async () => {
      const source = document.getElementById(b.dataset.copy);
      if (source && navigator.clipboard) {
        await navigator.clipboard.writeText(source.textContent);
        b.textContent = "Copied";
      }
    });
  }
}

// Header rows: "Add header" clones the empty row.
function headerRows(root) {
  for (const add of root.querySelectorAll("button[data-add-header]")) {
    add.hidden = false;
    add.addEventListener("click", () => {
      const row = add.parentElement.querySelector("[data-header-template]");
      const copy = row.cloneNode(true);
      copy.removeAttribute("data-header-template");
      for (const input of copy.querySelectorAll("input")) input.value = "";
      add.before(copy);
      copy.querySelector("input").focus();
    });
  }
}

// Profile settings: show Misskey's server field only for that profile.
function profileSettings(root) {
  const select = root.querySelector("select#profile");
  if (!select) return;
  const sync = () => {
    for (const box of root.querySelectorAll(".profile-settings")) {
      box.hidden = box.dataset.profile !== select.value;
    }
  };
  select.addEventListener("change", sync);
  sync();
}

// Forms marked data-inplace (the Enabled switch, Test) are sent without leaving the page:
// the answer's main part replaces this one's, and focus returns to the same control.
function inPlaceForms(root) {
  for (const form of root.querySelectorAll("form[data-inplace]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const focusAction = form.getAttribute("action");
      const button = form.querySelector("button");
      if (button) button.disabled = true;
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new URLSearchParams(new FormData(form)),
          credentials: "same-origin",
        });
        const html = await response.text();
        const next = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        const main = document.querySelector("main");
        if (!next || !main) { window.location.reload(); return; }
        main.replaceWith(next);
        enhance(next);
        const again = next.querySelector(`form[action="${focusAction}"] button`);
        if (again) again.focus();
      } catch (_) {
        form.submit();
      }
    });
  }
}

// The portal's entry: the link carries the token in its fragment (never sent to a server);
// sign in with it, and take it out of the address bar and the history at once.
function portalEntry(root) {
  const form = root.querySelector("form[data-portal]");
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (!form || !token) return;
  history.replaceState(null, "", window.location.pathname);
  form.querySelector("input[name=token]").value = token;
  // Someone signed in already confirms with the button; otherwise sign in at once.
  if (form.dataset.portal === "auto") form.submit();
}

function enhance(root) {
  localTimes(root);
  copyButtons(root);
  headerRows(root);
  profileSettings(root);
  inPlaceForms(root);
  portalEntry(root);
}

document.addEventListener("DOMContentLoaded", () => enhance(document));
