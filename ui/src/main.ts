import { mount } from "svelte";
import App from "./App.svelte";
import { initBackend } from "./lib/api/backend";
import { app, type Page, type ScimTab } from "./lib/state.svelte";
import "./app.css";

await initBackend();
if (import.meta.env.MODE === "mock") {
  // Screens can be opened directly while working on the UI: ?page=settings, ?tab=mapping.
  const q = new URLSearchParams(location.search);
  app.page = (q.get("page") as Page | null) ?? app.page;
  app.tab = (q.get("tab") as ScimTab | null) ?? app.tab;
}
mount(App, { target: document.getElementById("app")! });
