import { mount } from "svelte";
import App from "./App.svelte";
import { backend, initBackend } from "./lib/api/backend";
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

// Once the first screen shows the engine's data and the browser painted it (the second
// animation frame after that update), the shell logs the start-up time.
void app.firstScreenLoaded
  .then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
  .then(() => backend.appPainted(performance.now()))
  .catch(() => {});
