/// The report's stylesheet, inlined into the page: system fonts, cards, and grids that
/// reflow from one column on a phone to several on a desktop.
enum ReportStyle {
    static let css = """
    :root{--fg:#1f2933;--muted:#5f6b7a;--bg:#f3f5f9;--card:#fff;--line:#e3e8ef;--accent:#2563eb;--good:#16a34a;--bad:#dc2626}
    *{box-sizing:border-box}
    body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg);-webkit-text-size-adjust:100%}
    header{background:linear-gradient(135deg,#1e3a8a 0%,#2563eb 60%,#3b82f6 100%);color:#fff;padding:28px 0 64px}
    .wrap{max-width:1120px;margin:0 auto;padding:0 16px}
    header .eyebrow{text-transform:uppercase;letter-spacing:.08em;font-size:12px;opacity:.8;margin:0}
    header h1{margin:4px 0 6px;font-size:30px;line-height:1.2;word-break:break-word}
    header .sub{margin:0;opacity:.9}
    header .headline{display:flex;flex-wrap:wrap;align-items:baseline;gap:6px 18px}
    header .big{font-size:44px;font-weight:700;letter-spacing:-.02em}
    nav{margin-top:14px;display:flex;flex-wrap:wrap;gap:6px}
    nav a{color:#fff;text-decoration:none;font-size:13px;background:rgba(255,255,255,.16);padding:3px 10px;border-radius:999px}
    main.wrap{margin-top:-44px}
    .stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(136px,1fr));gap:12px}
    .stat{background:var(--card);border-radius:12px;padding:14px 16px;box-shadow:0 1px 3px rgba(15,23,42,.08),0 4px 14px rgba(15,23,42,.04)}
    .stat .label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
    .stat .value{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums;white-space:nowrap}
    section{margin:28px 0}
    h2{font-size:20px;margin:0 0 12px}
    h3{font-size:15px;margin:0 0 8px;color:var(--muted);font-weight:600}
    .card{background:var(--card);border-radius:12px;padding:16px;box-shadow:0 1px 3px rgba(15,23,42,.08),0 4px 14px rgba(15,23,42,.04);margin-bottom:16px}
    .cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:16px}
    .cols>.card{margin-bottom:0}
    svg{display:block;width:100%;height:auto;font-family:inherit}
    svg.key{display:inline-block;width:20px;height:10px;margin-right:5px;vertical-align:0}
    svg .tick{font-size:11px;fill:#5f6b7a}
    svg .axis-label{font-size:12px;fill:#5f6b7a}
    svg .rule-label{font-size:11px;fill:#7c3aed}
    .heatmap{margin:0 auto}
    .note{color:var(--muted);font-size:14px;background:#fff8e6;border-left:3px solid #f0b429;padding:8px 12px;border-radius:6px}
    .problem{color:#8a1c1c;background:#fdecec;border-left-color:var(--bad)}
    .scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
    table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:14px}
    th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
    th{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
    td.num,th.num{text-align:right}
    tr.avg td{font-weight:600;background:#f8fafc}
    td pre{margin:0;font-size:12.5px;white-space:pre-wrap;word-break:break-word}
    code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
    .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(112px,1fr));gap:10px}
    figure.pred{margin:0;background:var(--card);border:3px solid var(--good);border-radius:10px;overflow:hidden}
    figure.pred.wrong{border-color:var(--bad)}
    figure.pred img,figure.pred .noimg{display:block;width:100%;aspect-ratio:1/1;object-fit:cover;background:#e5e9f0}
    figure.pred .noimg{display:flex;align-items:center;justify-content:center;color:var(--muted);font-size:11px;text-align:center;padding:6px}
    figcaption{padding:4px 7px 6px;font-size:12px;line-height:1.35}
    figcaption .pred-name{font-weight:650;word-break:break-word}
    figcaption .ok{color:var(--good)}
    figcaption .bad{color:var(--bad)}
    figcaption .truth{color:var(--muted);word-break:break-word}
    .legend-row{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:13px;color:var(--muted);margin:0 0 10px}
    .swatch{display:inline-block;width:12px;height:12px;border-radius:3px;vertical-align:-1px;margin-right:5px}
    details summary{cursor:pointer;color:var(--accent);font-size:14px}
    footer{color:var(--muted);font-size:12px;padding:24px 0 40px}
    @media (max-width:600px){
      body{font-size:14px}
      header{padding:20px 0 56px}
      header h1{font-size:23px}
      header .big{font-size:34px}
      .stat .value{font-size:20px}
      svg .tick{font-size:16px}
      svg .axis-label,svg .rule-label{font-size:16px}
      .card{padding:12px}
      .grid{grid-template-columns:repeat(auto-fill,minmax(96px,1fr));gap:8px}
      th,td{padding:5px 6px}
    }
    """
}
