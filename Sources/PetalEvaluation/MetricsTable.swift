import Foundation

/// Renders `EvaluationMetrics` as plain-text tables for the terminal, laid out like
/// scikit-learn's `classification_report`, followed by the confusion matrix.
public enum MetricsTable {
    public static func render(_ metrics: EvaluationMetrics) -> String {
        var lines: [String] = []
        lines.append("Evaluated \(metrics.sampleCount) images in \(metrics.classNames.count) classes")
        if metrics.isEmpty { return lines[0] + ": no images, so no metrics\n" }
        lines.append("")
        lines.append("accuracy        \(percent(metrics.accuracy))")
        if let balanced = metrics.balancedAccuracy { lines.append("balanced acc.   \(percent(balanced))") }
        lines.append(pad("top-\(metrics.topK) accuracy", 16) + percent(metrics.topKAccuracy))
        lines.append("log loss        \(fixed(metrics.logLoss, 4))")
        if let tta = metrics.testTimeAugmentation { lines.append("test-time aug.  \(tta)") }
        lines.append("")

        // Per-class table.
        let nameWidth = max(14, (metrics.classNames.map(\.count).max() ?? 0) + 2)
        let header = pad("", nameWidth) + leftPad("precision", 10) + leftPad("recall", 10)
            + leftPad("f1", 10) + leftPad("support", 10)
        lines.append(header)
        lines.append(String(repeating: "-", count: header.count))
        for c in metrics.perClass {
            lines.append(pad(c.name, nameWidth) + leftPad(fixed(c.precision, 3), 10) + leftPad(fixed(c.recall, 3), 10)
                         + leftPad(fixed(c.f1, 3), 10) + leftPad(String(c.support), 10))
        }
        lines.append(String(repeating: "-", count: header.count))
        for (label, average) in [("macro avg", metrics.macroAverage), ("weighted avg", metrics.weightedAverage)] {
            lines.append(pad(label, nameWidth) + leftPad(fixed(average.precision, 3), 10)
                         + leftPad(fixed(average.recall, 3), 10) + leftPad(fixed(average.f1, 3), 10)
                         + leftPad(String(metrics.sampleCount), 10))
        }
        lines.append("")
        lines.append(contentsOf: confusionLines(metrics, nameWidth: nameWidth))
        return lines.joined(separator: "\n") + "\n"
    }

    /// Counts and row-normalised percentages side by side: rows are true classes,
    /// columns predicted classes (abbreviated to fit).
    static func confusionLines(_ metrics: EvaluationMetrics, nameWidth: Int) -> [String] {
        let names = metrics.classNames
        let countWidth = max(6, String(metrics.confusionMatrix.flatMap { $0 }.max() ?? 0).count + 2)
        let columnNames = names.map { String($0.prefix(countWidth - 1)) }
        var lines = ["confusion matrix (rows: true class, columns: predicted)"]
        let countsHeader = columnNames.map { leftPad($0, countWidth) }.joined()
        let percentHeader = columnNames.map { leftPad(String($0.prefix(6)), 7) }.joined()
        lines.append(pad("", nameWidth) + countsHeader + "   |" + percentHeader)
        for (i, name) in names.enumerated() {
            let counts = metrics.confusionMatrix[i].map { leftPad(String($0), countWidth) }.joined()
            let rates = metrics.normalizedConfusionMatrix[i].map { leftPad(fixed($0 * 100, 1) + "%", 7) }.joined()
            lines.append(pad(name, nameWidth) + counts + "   |" + rates)
        }
        return lines
    }

    static func percent(_ value: Double) -> String { fixed(value * 100, 2) + "%" }
    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
    static func leftPad(_ text: String, _ width: Int) -> String {
        text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }
}
