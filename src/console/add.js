// The add-leads dialog's counts, for everything a filter matches: the page
// comes without them (counting a million leads takes a second or more), and
// this script asks for them at once by sending the dialog's "Count" form,
// then puts the counts and the title of the answer in place and enables the
// Confirm button. Without the script the "Count" button does the same as a
// page load.
"use strict";
(function () {
  const form = document.getElementById("count-form");
  const area = document.getElementById("add-counts");
  const confirm = document.getElementById("add-confirm");
  if (!form || !area || !confirm) {
    return;
  }
  const saved = Array.from(area.childNodes);

  function say(text, alert) {
    const p = document.createElement("p");
    p.className = alert ? "error" : "muted";
    if (alert) {
      p.setAttribute("role", "alert");
    }
    p.textContent = text;
    return p;
  }

  // On failure the form comes back, to count again.
  function fail(text) {
    area.replaceChildren(say(text, true), ...saved);
  }

  area.replaceChildren(say("Counting what the add would do…", false));
  fetch(form.action, {
    method: "POST",
    body: new URLSearchParams(new FormData(form)),
    credentials: "same-origin",
  })
    .then(async (res) => {
      const page = new DOMParser().parseFromString(await res.text(), "text/html");
      const counts = page.querySelector("#add-counts ul.counts");
      if (!res.ok || !counts) {
        const why = page.querySelector(".error");
        fail(why ? why.textContent : "The counts could not be made (" + res.status + "); try again.");
        return;
      }
      area.replaceChildren(document.importNode(counts, true));
      const title = page.getElementById("add-title");
      const here = document.getElementById("add-title");
      if (title && here) {
        here.textContent = title.textContent;
      }
      confirm.textContent = "Confirm: add " + counts.dataset.added;
      confirm.disabled = false;
    })
    .catch(() => fail("The counts could not be made; try again."));
})();
