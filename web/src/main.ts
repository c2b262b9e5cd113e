// The app's entry: the navigation from PAGES, then the page of the current path, mounted into <main>.

import { h, replace } from "./dom.ts";
import { pageFor, PAGES } from "./pages.ts";
import "./style.css";

async function start(): Promise<void> {
  const nav = document.getElementById("nav")!;
  const main = document.getElementById("main")!;
  const current = pageFor(location.pathname);
  replace(
    nav,
    ...PAGES.map((page) =>
      h(
        "li",
        {},
        h("a", { href: page.path, "aria-current": page === current ? "page" : undefined }, page.title),
      ),
    ),
  );
  if (current === undefined) {
    document.title = "Pulse: no such page";
    replace(main, h("h1", {}, "No such page"), h("p", {}, "Pick a page above."));
    return;
  }
  document.title = `Pulse · ${current.heading}`;
  const page = await current.load();
  const stop = await page.mount(main);
  addEventListener("pagehide", stop, { once: true });
}

start().catch((error: unknown) => {
  const main = document.getElementById("main");
  if (main !== null) {
    replace(
      main,
      h("p", { class: "error", role: "alert" }, `The page could not start: ${(error as Error).message}`),
    );
  }
  throw error;
});
