//! Embeds the UI from `ui/dist`. A workspace-wide `cargo check` or `clippy` on a fresh clone
//! must not fail just because the UI was not built yet, so a missing `ui/dist` gets a page
//! that says how to build it (with a warning here).

use std::path::Path;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    if !dist.join("index.html").exists() {
        println!("cargo:warning=ui/dist is missing: run `npm ci && npm run build` in ui/ for the real UI");
        std::fs::create_dir_all(&dist).expect("create ui/dist");
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><title>TalkWriter Admin</title>\
             <p style=\"font-family:system-ui;padding:2em\">The UI was not built. \
             Run <code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code>, then rebuild the app.</p>",
        )
        .expect("write ui/dist/index.html");
    }
    println!("cargo:rerun-if-changed=../ui/dist");
    tauri_build::build();
}
