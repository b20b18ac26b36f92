import Foundation

/// Escapes text for HTML and SVG content and attribute values.
func escapeHTML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for ch in text {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(ch)
        }
    }
    return out
}

/// A number for SVG coordinates: short and locale-independent.
func coordinate(_ value: Double) -> String { String(format: "%.1f", value) }

/// About `count` round tick values (1, 2 or 5 × 10ⁿ apart) covering `low...high`.
func niceTicks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
    guard high > low, low.isFinite, high.isFinite else { return [low] }
    let rough = (high - low) / Double(max(1, count))
    let magnitude = pow(10, floor(log10(rough)))
    let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
    var ticks: [Double] = []
    var value = (low / step).rounded(.up) * step
    while value <= high + step * 1e-9 {
        ticks.append(abs(value) < step * 1e-9 ? 0 : value)
        value += step
    }
    return ticks
}

/// A line chart of values per epoch, drawn as inline SVG that scales with its container.
struct LineChart {
    struct Series {
        var name: String
        var color: String
        var points: [(x: Double, y: Double)]
        var dashed = false
    }
    /// A vertical rule with a label, e.g. where fine-tuning began.
    struct Rule {
        var x: Double
        var label: String
    }

    var title: String
    var series: [Series]
    var xLabel = "epoch"
    var yFormat: (Double) -> String = { String(format: "%.2f", $0) }
    /// X tick labels and tooltips (whole epochs by default; the learning-rate finder's log scale).
    var xFormat: (Double) -> String = { String(Int($0)) }
    /// Fixed y-limits (accuracy: 0–1); nil fits the data.
    var yDomain: ClosedRange<Double>? = nil
    var phaseRule: Rule? = nil
    /// Epochs where the learning rate dropped, with a tooltip each.
    var drops: [Rule] = []

    let width = 560.0, height = 320.0
    let left = 56.0, right = 18.0, top = 18.0, bottom = 44.0

    /// The chart as a card body: title and legend in HTML (so they wrap on a phone), then the SVG.
    func html() -> String {
        var legend = series.map { line in
            "<span><svg class=\"key\" viewBox=\"0 0 20 10\"><line x1=\"1\" x2=\"19\" y1=\"5\" y2=\"5\" stroke=\"\(line.color)\" stroke-width=\"3\"\(line.dashed ? " stroke-dasharray=\"5 3\"" : "")/></svg>\(escapeHTML(line.name))</span>"
        }
        if phaseRule != nil {
            legend.append("<span><svg class=\"key\" viewBox=\"0 0 20 10\"><line x1=\"1\" x2=\"19\" y1=\"5\" y2=\"5\" stroke=\"#7c3aed\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/></svg>fine-tuning began</span>")
        }
        if !drops.isEmpty {
            legend.append("<span><svg class=\"key\" viewBox=\"0 0 20 10\"><path d=\"M4 1h12l-6 8z\" fill=\"#d97706\"/></svg>learning rate dropped</span>")
        }
        return "<h3>\(escapeHTML(title))</h3><div class=\"legend-row\">\(legend.joined())</div>" + svg()
    }

    func svg() -> String {
        let finite = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        guard !finite.isEmpty else {
            return "<p class=\"note\">No values to plot for \(escapeHTML(title)).</p>"
        }
        let xs = finite.map(\.x), ys = finite.map(\.y)
        let xMin = xs.min()!, xMax = max(xs.max()!, xMin + 1)
        var yMin = ys.min()!, yMax = ys.max()!
        if let domain = yDomain { yMin = min(domain.lowerBound, yMin); yMax = max(domain.upperBound, yMax) }
        if yMax - yMin < 1e-9 { yMin -= 0.5; yMax += 0.5 }
        let yTicks = niceTicks(yMin, yMax)
        if yDomain == nil, let first = yTicks.first, let last = yTicks.last {
            // Extend to the surrounding ticks so the lines never touch the frame.
            let step = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
            yMin = min(yMin, first > yMin ? first - step : first)
            yMax = max(yMax, last < yMax ? last + step : last)
        }
        let plotW = width - left - right, plotH = height - top - bottom
        let padX = 0.5
        func px(_ x: Double) -> Double { left + (x - xMin + padX) / (xMax - xMin + 2 * padX) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (y - yMin) / (yMax - yMin)) * plotH }

        var s = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escapeHTML(title))\" class=\"chart\">"
        s += "<rect x=\"\(coordinate(left))\" y=\"\(coordinate(top))\" width=\"\(coordinate(plotW))\" height=\"\(coordinate(plotH))\" fill=\"#fbfcfe\" stroke=\"#d5dbe3\"/>"
        // Y grid and ticks.
        for tick in niceTicks(yMin, yMax) where tick >= yMin - 1e-9 && tick <= yMax + 1e-9 {
            let y = py(tick)
            s += "<line x1=\"\(coordinate(left))\" x2=\"\(coordinate(left + plotW))\" y1=\"\(coordinate(y))\" y2=\"\(coordinate(y))\" stroke=\"#e6eaf0\"/>"
            s += "<text x=\"\(coordinate(left - 6))\" y=\"\(coordinate(y + 4))\" text-anchor=\"end\" class=\"tick\">\(escapeHTML(yFormat(tick)))</text>"
        }
        // X ticks: whole epochs, thinned to at most ~12 labels.
        let span = Int(xMax.rounded()) - Int(xMin.rounded())
        let stride = max(1, Int((Double(span + 1) / 12).rounded(.up)))
        for epoch in Swift.stride(from: Int(xMin.rounded()), through: Int(xMax.rounded()), by: stride) {
            let x = px(Double(epoch))
            s += "<line x1=\"\(coordinate(x))\" x2=\"\(coordinate(x))\" y1=\"\(coordinate(top + plotH))\" y2=\"\(coordinate(top + plotH + 5))\" stroke=\"#8a94a3\"/>"
            s += "<text x=\"\(coordinate(x))\" y=\"\(coordinate(top + plotH + 18))\" text-anchor=\"middle\" class=\"tick\">\(escapeHTML(xFormat(Double(epoch))))</text>"
        }
        s += "<text x=\"\(coordinate(left + plotW / 2))\" y=\"\(coordinate(height - 6))\" text-anchor=\"middle\" class=\"axis-label\">\(escapeHTML(xLabel))</text>"

        // Fine-tuning start: a dashed rule half an epoch before the first fine-tuning epoch.
        if let rule = phaseRule {
            let x = px(rule.x - 0.5)
            s += "<line x1=\"\(coordinate(x))\" x2=\"\(coordinate(x))\" y1=\"\(coordinate(top))\" y2=\"\(coordinate(top + plotH))\" stroke=\"#7c3aed\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>"
            s += "<text x=\"\(coordinate(x + 4))\" y=\"\(coordinate(top + 14))\" class=\"rule-label\">\(escapeHTML(rule.label))</text>"
        }
        // Learning-rate drops: a downward triangle on the top edge and a dotted rule.
        for drop in drops {
            let x = px(drop.x)
            s += "<g class=\"lr-drop\"><title>\(escapeHTML(drop.label))</title>"
            s += "<line x1=\"\(coordinate(x))\" x2=\"\(coordinate(x))\" y1=\"\(coordinate(top))\" y2=\"\(coordinate(top + plotH))\" stroke=\"#d97706\" stroke-width=\"1\" stroke-dasharray=\"2 3\"/>"
            s += "<path d=\"M\(coordinate(x - 6)) \(coordinate(top - 9))h12l-6 9z\" fill=\"#d97706\"/></g>"
        }
        // Series.
        for line in series {
            let points = line.points.filter { $0.x.isFinite && $0.y.isFinite }
            guard !points.isEmpty else { continue }
            let path = points.enumerated().map { i, p in (i == 0 ? "M" : "L") + "\(coordinate(px(p.x))) \(coordinate(py(p.y)))" }.joined()
            let dash = line.dashed ? " stroke-dasharray=\"5 3\"" : ""
            s += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2.2\" stroke-linejoin=\"round\"\(dash)/>"
            for p in points {
                s += "<circle cx=\"\(coordinate(px(p.x)))\" cy=\"\(coordinate(py(p.y)))\" r=\"3\" fill=\"\(line.color)\"><title>\(escapeHTML(line.name)), \(escapeHTML(xLabel)) \(escapeHTML(xFormat(p.x))): \(escapeHTML(yFormat(p.y)))</title></circle>"
            }
        }
        s += "</svg>"
        return s
    }
}

/// Colour of a heat-map cell for a value in 0...1: white to deep blue (like Matplotlib's
/// "Blues"), with the text colour that stays readable on it.
func heatColor(_ value: Double) -> (fill: String, text: String) {
    let stops: [(Double, (Double, Double, Double))] = [
        (0.0, (247, 251, 255)), (0.25, (198, 219, 239)), (0.5, (107, 174, 214)),
        (0.75, (33, 113, 181)), (1.0, (8, 48, 107)),
    ]
    let v = min(max(value.isFinite ? value : 0, 0), 1)
    var i = 0
    while i < stops.count - 2 && v > stops[i + 1].0 { i += 1 }
    let (a, ca) = stops[i], (b, cb) = stops[i + 1]
    let t = (v - a) / (b - a)
    let r = Int(ca.0 + (cb.0 - ca.0) * t), g = Int(ca.1 + (cb.1 - ca.1) * t), bl = Int(ca.2 + (cb.2 - ca.2) * t)
    return (String(format: "#%02x%02x%02x", r, g, bl), v > 0.5 ? "#ffffff" : "#1f2933")
}

/// The confusion matrix as an SVG heat map: colour by row-normalised rate, counts in cells.
struct ConfusionHeatMap {
    var classNames: [String]
    var counts: [[Int]]
    var rates: [[Double]]

    func svg() -> String {
        let n = classNames.count
        guard n > 0 else { return "" }
        let cell = max(18.0, min(72.0, 520.0 / Double(n)))
        let maxName = min(18, classNames.map(\.count).max() ?? 1)
        let labelRoom = Double(maxName) * 7.2 + 14
        let left = labelRoom + 24, top = labelRoom * 0.72 + 30
        let width = left + cell * Double(n) + 12, height = top + cell * Double(n) + 12
        let showRates = cell >= 46, fontSize = cell >= 40 ? 14.0 : (cell >= 26 ? 11.0 : 8.0)
        func short(_ name: String) -> String { name.count > 18 ? String(name.prefix(17)) + "…" : name }

        var s = "<svg viewBox=\"0 0 \(coordinate(width)) \(coordinate(height))\" role=\"img\" aria-label=\"Confusion matrix\" class=\"heatmap\" style=\"max-width:\(Int(width * 1.25))px\">"
        s += "<text x=\"\(coordinate(left + cell * Double(n) / 2))\" y=\"14\" text-anchor=\"middle\" class=\"axis-label\">predicted class</text>"
        s += "<text transform=\"translate(14 \(coordinate(top + cell * Double(n) / 2))) rotate(-90)\" text-anchor=\"middle\" class=\"axis-label\">true class</text>"
        for (j, name) in classNames.enumerated() {
            let x = left + (Double(j) + 0.5) * cell
            s += "<text transform=\"translate(\(coordinate(x + 4)) \(coordinate(top - 6))) rotate(-40)\" class=\"tick\"><title>\(escapeHTML(name))</title>\(escapeHTML(short(name)))</text>"
        }
        for (i, name) in classNames.enumerated() {
            let y = top + (Double(i) + 0.5) * cell
            s += "<text x=\"\(coordinate(left - 6))\" y=\"\(coordinate(y + 4))\" text-anchor=\"end\" class=\"tick\"><title>\(escapeHTML(name))</title>\(escapeHTML(short(name)))</text>"
            for j in 0..<n {
                let rate = rates[i][j], count = counts[i][j]
                let color = heatColor(rate)
                let x = left + Double(j) * cell, yy = top + Double(i) * cell
                s += "<g><title>true \(escapeHTML(name)), predicted \(escapeHTML(classNames[j])): \(count) (\(String(format: "%.1f", rate * 100))%)</title>"
                s += "<rect x=\"\(coordinate(x))\" y=\"\(coordinate(yy))\" width=\"\(coordinate(cell))\" height=\"\(coordinate(cell))\" fill=\"\(color.fill)\" stroke=\"#ffffff\" stroke-width=\"1\"/>"
                let cy = yy + cell / 2 + (showRates ? -2 : fontSize * 0.35)
                s += "<text x=\"\(coordinate(x + cell / 2))\" y=\"\(coordinate(cy))\" text-anchor=\"middle\" fill=\"\(color.text)\" font-size=\"\(Int(fontSize))\" font-weight=\"600\">\(count)</text>"
                if showRates {
                    s += "<text x=\"\(coordinate(x + cell / 2))\" y=\"\(coordinate(yy + cell / 2 + 14))\" text-anchor=\"middle\" fill=\"\(color.text)\" font-size=\"10\" opacity=\"0.85\">\(String(format: "%.0f", rate * 100))%</text>"
                }
                s += "</g>"
            }
        }
        s += "</svg>"
        return s
    }
}

/// Horizontal bars with value labels, e.g. images per class.
struct BarChart {
    var labels: [String]
    var values: [Int]
    var color = "#3b82f6"

    func svg() -> String {
        guard !values.isEmpty else { return "" }
        let barHeight = 22.0, gap = 8.0
        let labelWidth = Double(min(20, labels.map(\.count).max() ?? 1)) * 7.2 + 12
        let width = 560.0, plotW = width - labelWidth - 60
        let height = Double(values.count) * (barHeight + gap) + gap
        let maxValue = Double(max(1, values.max() ?? 1))
        var s = "<svg viewBox=\"0 0 \(Int(width)) \(coordinate(height))\" role=\"img\" aria-label=\"Images per class\" class=\"bars\">"
        for (i, (label, value)) in zip(labels, values).enumerated() {
            let y = gap + Double(i) * (barHeight + gap)
            let w = max(1, Double(value) / maxValue * plotW)
            s += "<text x=\"\(coordinate(labelWidth - 8))\" y=\"\(coordinate(y + 15))\" text-anchor=\"end\" class=\"tick\">\(escapeHTML(String(label.prefix(20))))</text>"
            s += "<rect x=\"\(coordinate(labelWidth))\" y=\"\(coordinate(y))\" width=\"\(coordinate(w))\" height=\"\(coordinate(barHeight))\" rx=\"4\" fill=\"\(color)\"/>"
            s += "<text x=\"\(coordinate(labelWidth + w + 6))\" y=\"\(coordinate(y + 15))\" class=\"tick\">\(value)</text>"
        }
        s += "</svg>"
        return s
    }
}
