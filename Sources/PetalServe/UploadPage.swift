import Foundation
import HTTPTypes
import Hummingbird
import PetalCore

/// GET /: a self-contained upload page (no network beyond this server, no external scripts or
/// fonts): pick or drop photos, and each is shown with its top classes as bars. Works with a
/// phone's camera or files and with a desktop's drag and drop.
struct UploadPage: Sendable {
    let html: String

    init(models: [ServedModel]) {
        struct ModelInfo: Encodable { var name: String; var classes: [String] }
        let infos = models.map { ModelInfo(name: $0.name, classes: $0.classifier.classNames) }
        // In a <script> element, "</" must not appear: escape the slash.
        let json = ((try? PetalJSON.line(infos)) ?? "[]").replacingOccurrences(of: "</", with: "<\\/")
        html = Self.template.replacingOccurrences(of: "__MODELS__", with: json)
    }

    @Sendable func render(_ request: Request, context: some RequestContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        // The page may talk to this server only, and load nothing from elsewhere.
        headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src blob: data:; connect-src 'self'"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let template = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Petal: classify photos</title>
    <style>
    :root { --accent: #b0306a; --bar: #e9b6cc; --ink: #222; --muted: #666; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 16px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #faf8f9; }
    main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
    h1 { font-size: 1.4rem; margin: .2rem 0 1rem; color: var(--accent); }
    #drop { border: 2px dashed #c9a3b4; border-radius: 12px; padding: 1.5rem 1rem; text-align: center; background: #fff; }
    #drop.over { border-color: var(--accent); background: #fbeef4; }
    #drop p { margin: .3rem 0; color: var(--muted); }
    label.button { display: inline-block; padding: .7rem 1.3rem; border-radius: 8px; background: var(--accent); color: #fff;
                   font-weight: 600; cursor: pointer; }
    #file { position: absolute; width: 1px; height: 1px; opacity: 0; }
    select { font: inherit; padding: .3rem; margin-left: .3rem; }
    #results { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: 1rem; margin-top: 1rem; padding: 0; }
    .result { list-style: none; background: #fff; border-radius: 12px; box-shadow: 0 1px 4px rgba(0,0,0,.12); overflow: hidden; }
    .result img { width: 100%; aspect-ratio: 1; object-fit: cover; display: block; background: #eee; }
    .result .body { padding: .6rem .8rem .8rem; }
    .result .file { font-size: .85rem; color: var(--muted); overflow-wrap: anywhere; }
    .classes { list-style: none; margin: .4rem 0 0; padding: 0; }
    .classes li { position: relative; margin: .25rem 0; padding: .15rem .4rem; border-radius: 4px; overflow: hidden; }
    .classes .bar { position: absolute; inset: 0 auto 0 0; background: var(--bar); z-index: 0; }
    .classes .name, .classes .pct { position: relative; z-index: 1; }
    .classes .pct { float: right; font-variant-numeric: tabular-nums; }
    .classes li:first-child { font-weight: 600; }
    .error { color: #a00; }
    .meta { font-size: .8rem; color: var(--muted); margin-top: .3rem; }
    </style>
    </head>
    <body>
    <main>
    <h1>Petal: classify photos</h1>
    <div id="drop">
      <label class="button" for="file">Choose photos</label>
      <input id="file" type="file" accept="image/*" multiple>
      <p>or drop them here</p>
      <p id="model-line"><label for="model">Model</label><select id="model"></select></p>
    </div>
    <ul id="results"></ul>
    </main>
    <script>
    "use strict";
    const models = __MODELS__;
    const select = document.getElementById("model");
    for (const m of models) {
      const option = document.createElement("option");
      option.value = m.name;
      option.textContent = m.name + " (" + m.classes.length + " classes)";
      select.appendChild(option);
    }
    if (models.length < 2) document.getElementById("model-line").hidden = true;

    // JPEG and PNG go as they are; other formats a browser can show (HEIC on iPhones, WebP)
    // are re-encoded as JPEG first, since the server reads JPEG and PNG.
    async function asUpload(file) {
      if (file.type === "image/jpeg" || file.type === "image/png") return file;
      const bitmap = await createImageBitmap(file);
      const canvas = document.createElement("canvas");
      canvas.width = bitmap.width; canvas.height = bitmap.height;
      canvas.getContext("2d").drawImage(bitmap, 0, 0);
      return await new Promise(resolve => canvas.toBlob(resolve, "image/jpeg", 0.92));
    }

    function card(file) {
      const li = document.createElement("li");
      li.className = "result";
      li.dataset.state = "pending";
      const img = document.createElement("img");
      img.alt = file.name;
      img.src = URL.createObjectURL(file);
      const body = document.createElement("div");
      body.className = "body";
      const name = document.createElement("div");
      name.className = "file";
      name.textContent = file.name;
      const status = document.createElement("div");
      status.className = "meta";
      status.textContent = "classifying\u2026";
      body.append(name, status);
      li.append(img, body);
      document.getElementById("results").prepend(li);
      return { li, body, status };
    }

    async function classify(file) {
      const view = card(file);
      try {
        const upload = await asUpload(file);
        const response = await fetch("/v1/models/" + encodeURIComponent(select.value) + "/predict?top=5", {
          method: "POST", headers: { "Content-Type": upload.type || "application/octet-stream" }, body: upload });
        const answer = await response.json();
        if (!response.ok) throw new Error(answer.error || ("HTTP " + response.status));
        const list = document.createElement("ol");
        list.className = "classes";
        for (const score of answer.predictions[0].top) {
          const item = document.createElement("li");
          item.dataset.class = score.class;
          const bar = document.createElement("span");
          bar.className = "bar";
          bar.style.width = (100 * score.probability).toFixed(1) + "%";
          const label = document.createElement("span");
          label.className = "name";
          label.textContent = score.class;
          const pct = document.createElement("span");
          pct.className = "pct";
          pct.textContent = (100 * score.probability).toFixed(1) + " %";
          item.append(bar, label, pct);
          list.appendChild(item);
        }
        view.body.insertBefore(list, view.status);
        view.status.textContent = answer.model + ", " + answer.time_ms.toFixed(0) + " ms";
        view.li.dataset.state = "done";
      } catch (error) {
        view.status.textContent = String(error.message || error);
        view.status.className = "meta error";
        view.li.dataset.state = "error";
      }
    }

    function classifyAll(files) {
      for (const file of files) if (file.type.startsWith("image/") || file.type === "") classify(file);
    }
    const input = document.getElementById("file");
    input.addEventListener("change", () => { classifyAll(input.files); input.value = ""; });
    const drop = document.getElementById("drop");
    for (const type of ["dragenter", "dragover"]) drop.addEventListener(type, e => { e.preventDefault(); drop.classList.add("over"); });
    for (const type of ["dragleave", "drop"]) drop.addEventListener(type, e => { e.preventDefault(); drop.classList.remove("over"); });
    drop.addEventListener("drop", e => classifyAll(e.dataTransfer.files));
    // Dropping beside the box should not open the photo in place of the page.
    window.addEventListener("dragover", e => e.preventDefault());
    window.addEventListener("drop", e => e.preventDefault());
    </script>
    </body>
    </html>
    """#
}
