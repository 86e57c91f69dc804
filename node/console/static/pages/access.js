// Access log: who read what, when (/v1/audit/access-log; regulator and registrar), newest page
// first as the node pages it, with "more" following next_cursor.

import { get } from "../api.js";
import { num, t, time } from "../i18n.js";
import { errorBox, esc, learnNames, table, who } from "../ui.js";

export default {
  async render(root) {
    const rows = [];
    let cursor = null;
    const draw = (extra = "") => {
      root.innerHTML = `<section class="card"><h2>${esc(t("access"))} (${num(rows.length)})</h2>${table([
        { label: t("seq"), num: true, text: (r) => r.seq },
        { label: t("time"), text: (r) => time(r.time) },
        { label: t("account"), html: (r) => who(r.account) },
        { label: t("role"), text: (r) => r.role ?? "–" },
        { label: t("method"), text: (r) => r.method },
        { label: t("path"), html: (r) => `<span class="mono">${esc(r.path)}</span>` },
        { label: t("height"), num: true, text: (r) => num(r.height) },
      ], [...rows].reverse(), { testid: "access-log" })}
      ${cursor ? `<button id="more">${esc(t("more"))}</button>` : ""}${extra}</section>`;
      const more = root.querySelector("#more");
      if (more) more.onclick = load;
    };
    const load = async () => {
      try {
        const page = await get(`/v1/audit/access-log?limit=500${cursor ? `&cursor=${cursor}` : ""}`);
        rows.push(...page.entries);
        await learnNames(page.entries.map((r) => r.account));
        cursor = page.next_cursor;
        draw();
      } catch (error) {
        draw(errorBox(error));
      }
    };
    await load();
    return null;
  },
};
