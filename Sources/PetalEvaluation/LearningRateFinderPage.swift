import Foundation
import PetalCore
import PetalTraining

/// An output folder `petal lr-find --out` cannot write into.
public enum LearningRateFinderOutputError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case notAFolder(path: String)
    /// A folder with files that are not an earlier `petal lr-find`'s (the first few names).
    case notPetals(path: String, files: [String])

    public var description: String {
        switch self {
        case let .notAFolder(path):
            return "--out \(path) is a file, not a folder; give a new folder for the learning-rate finder's page"
        case let .notPetals(path, files):
            return "--out \(path) holds files Petal did not write (\(files.joined(separator: ", "))); they are left alone: give a new or empty folder"
        }
    }

    public var errorDescription: String? { description }
}

/// The learning-rate finder's output folder: `lr-find.json` (the finding, which marks the
/// folder as Petal's) and `lr-find.html` (a self-contained page with the loss curve as SVG).
/// Petal writes only into a new or empty folder or one an earlier `petal lr-find` wrote, and
/// then only its own two files (atomically); anything else in it stays as it is.
public enum LearningRateFinderPage {
    public static let jsonName = "lr-find.json", htmlName = "lr-find.html"

    /// Writes both files into `folder` (made if absent); returns the page's URL.
    @discardableResult
    public static func write(_ finding: LearningRateFinding, to folder: URL) throws -> URL {
        try checkOwnFolder(folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let page = folder.appendingPathComponent(htmlName)
        // The page first: the JSON, which marks the folder as Petal's, is written last.
        try Data(render(finding).utf8).writeAtomically(to: page)
        try PetalJSON.encode(finding).writeAtomically(to: folder.appendingPathComponent(jsonName))
        return page
    }

    /// Throws unless `folder` is absent, empty, or holds an earlier finding.
    public static func checkOwnFolder(_ folder: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else { throw LearningRateFinderOutputError.notAFolder(path: folder.path) }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        if names.isEmpty { return }
        let marker = folder.appendingPathComponent(jsonName)
        if (try? RunFolder.readJSON(LearningRateFinding.self, from: marker)) != nil { return }
        throw LearningRateFinderOutputError.notPetals(path: folder.path, files: Array(names.prefix(5)))
    }

    /// The page: the raw and smoothed loss against the learning rate (log scale), the suggestion, the numbers.
    public static func render(_ finding: LearningRateFinding) -> String {
        let x = finding.learningRates.map { log10($0) }
        let suggested = finding.suggestedLearningRate
        let suggestedLoss = zip(finding.learningRates, finding.smoothedLosses).first { $0.0 == suggested }?.1
        var series = [
            LineChart.Series(name: "loss", color: "#93c5fd", points: zip(x, finding.losses).map { (x: $0, y: $1) }),
            LineChart.Series(name: "smoothed loss", color: "#2563eb", points: zip(x, finding.smoothedLosses).map { (x: $0, y: $1) }),
        ]
        if let suggestedLoss {
            series.append(.init(name: "suggested \(rate(suggested))", color: "#dc2626", points: [(log10(suggested), suggestedLoss)]))
        }
        let chart = LineChart(title: "Training loss against the learning rate", series: series, xLabel: "learning rate",
                              yFormat: { String(format: "%.3g", $0) }, xFormat: { rate(pow(10, $0)) })
        let s = finding.sweep
        var page = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Learning-rate finder · Petal</title>
        <style>\(ReportStyle.css)</style>
        </head><body>
        <header><div class="wrap"><p class="eyebrow">Petal learning-rate finder</p>
        <h1>\(escapeHTML(URL(fileURLWithPath: finding.data).lastPathComponent)) · \(escapeHTML(finding.backbone))</h1>
        <div class="headline"><span class="big">\(rate(suggested))</span><span>suggested learning rate (\(escapeHTML(LearningRateFinding.suggestionMethod)))</span></div>
        </div></header><main class="wrap"><section><div class="card">
        """
        page += chart.html()
        page += "</div><div class=\"card\"><p>"
        page += "fastai's other suggestion, the minimum of the smoothed loss divided by 10: <strong>\(rate(finding.minimumLearningRateOver10))</strong>. "
        page += "Sweep: \(finding.learningRates.count) of \(s.steps) mini-batches of \(finding.batchSize) at \(finding.imageSize) px, "
        page += "rates \(rate(s.startLR)) to \(rate(s.endLR)) (geometric), \(escapeHTML(finding.optimizer)), base frozen, "
        page += "\(finding.trainingImages) training images; ended: \(escapeHTML(finding.stopReason)). "
        page += "Loss smoothed as fastai does (moving average, beta \(s.beta), debiased); the sweep stops when it exceeds \(String(format: "%g", s.divergenceFactor))x its minimum.</p>"
        page += "<p>Train with it: <code>petal train \(escapeHTML(finding.data)) --lr \(rate(suggested))</code></p></div></section>"
        page += "</main><footer class=\"wrap\">Generated by Petal \(escapeHTML(PetalVersion.string)).</footer></body></html>\n"
        return page
    }

    /// A learning rate as people write it: 0.001, 3.2e-05.
    static func rate(_ value: Double) -> String { String(format: "%.2g", value) }
}
