// The import form's column mapping: once a file is chosen, its first line
// goes to the server, which says where each column goes by default; each
// column gets a choice of lead field, and the choices go with the form as
// its `mapping` part. Without this script the form still works, with the
// columns the server recognises.
"use strict";
(function () {
  const form = document.getElementById("import-form");
  if (!form) {
    return;
  }
  const file = form.querySelector("input[type=file]");
  const area = document.getElementById("mapping-area");
  const mapping = form.querySelector("input[name=mapping]");
  const csrf = form.querySelector("input[name=csrf]").value;
  let chosen = [];

  function note(text) {
    area.textContent = "";
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = text;
    area.appendChild(p);
  }

  function render(columns, fields) {
    area.textContent = "";
    const table = document.createElement("table");
    const caption = document.createElement("caption");
    caption.textContent = "Where each column goes";
    table.appendChild(caption);
    const head = table.createTHead().insertRow();
    for (const title of ["Column", "Lead field"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = title;
      head.appendChild(th);
    }
    const body = table.createTBody();
    chosen = columns.map((c) => ({ name: c.name, field: c.field }));
    columns.forEach((column, i) => {
      const row = body.insertRow();
      const name = row.insertCell();
      name.textContent = column.name;
      const cell = row.insertCell();
      const select = document.createElement("select");
      select.id = "map-" + i;
      select.setAttribute("aria-label", "Lead field for the column " + column.name);
      const skip = document.createElement("option");
      skip.value = "";
      skip.textContent = "(ignore this column)";
      select.appendChild(skip);
      for (const f of fields) {
        const option = document.createElement("option");
        option.value = f;
        option.textContent = f;
        select.appendChild(option);
      }
      const custom = document.createElement("option");
      custom.value = "customFields." + column.name;
      custom.textContent = "custom field " + column.name;
      select.appendChild(custom);
      select.value = column.field || "";
      select.addEventListener("change", () => {
        chosen[i].field = select.value || null;
      });
      cell.appendChild(select);
    });
    area.appendChild(table);
  }

  file.addEventListener("change", async () => {
    mapping.value = "";
    chosen = [];
    const f = file.files[0];
    if (!f) {
      area.textContent = "";
      return;
    }
    const start = await f.slice(0, 65536).text();
    const header = start.split(/\r?\n/)[0];
    const res = await fetch("/app/import/columns", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ header: header }),
    });
    if (!res.ok) {
      note("The columns could not be read; the file will be imported with the columns recognised.");
      return;
    }
    const found = await res.json();
    render(found.columns, found.fields);
  });

  form.addEventListener("submit", () => {
    if (chosen.length > 0) {
      const given = {};
      for (const c of chosen) {
        given[c.name] = c.field;
      }
      mapping.value = JSON.stringify(given);
    }
  });
})();
