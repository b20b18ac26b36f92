import Foundation
import PetalTraining

/// The sections of report.html, in page order.
extension HTMLReport {
    static let trainColor = "#2563eb", validationColor = "#ea580c"

    func trainingSection() -> String {
        var s = "<section id=\"training\"><h2>Training</h2>"
        guard let history, !history.epochs.isEmpty else {
            return s + Self.note("No \(RunFile.history) in this run folder, so there are no training curves.") + "</section>"
        }
        let epochs = history.epochs
        let fineTuningStart = history.fineTuningStartEpoch ?? epochs.first { $0.phase == "fine-tuning" }?.epoch
        let phaseRule = fineTuningStart.map { LineChart.Rule(x: Double($0), label: "fine-tuning") }
        // Learning-rate drops inside a phase (schedules, ReduceLROnPlateau); the change at
        // the phase boundary is already marked by the fine-tuning rule.
        var drops: [LineChart.Rule] = []
        for (previous, current) in zip(epochs, epochs.dropFirst())
        where current.phase == previous.phase && current.learningRate < previous.learningRate {
            drops.append(LineChart.Rule(x: Double(current.epoch) - 0.5, label: String(
                format: "epoch %d: learning rate %g → %g", current.epoch, previous.learningRate, current.learningRate)))
        }
        func series(_ name: String, _ color: String, _ value: (EpochRecord) -> Double?, dashed: Bool = false) -> LineChart.Series {
            LineChart.Series(name: name, color: color,
                             points: epochs.compactMap { e in value(e).map { (Double(e.epoch), $0) } }, dashed: dashed)
        }
        let accuracy = LineChart(
            title: "Accuracy",
            series: [series("training", Self.trainColor, { $0.accuracy }),
                     series("validation", Self.validationColor, { $0.validationAccuracy })].filter { !$0.points.isEmpty },
            yFormat: { String(format: "%.0f%%", $0 * 100) }, yDomain: nil, phaseRule: phaseRule, drops: drops)
        let loss = LineChart(
            title: "Loss",
            series: [series("training", Self.trainColor, { $0.loss }),
                     series("validation", Self.validationColor, { $0.validationLoss })].filter { !$0.points.isEmpty },
            phaseRule: phaseRule, drops: drops)
        s += "<div class=\"cols\"><div class=\"card\">\(accuracy.html())</div><div class=\"card\">\(loss.html())</div></div>"

        var facts: [String] = []
        if let start = fineTuningStart { facts.append("Fine-tuning began at epoch \(start) (dashed line).") }
        if !drops.isEmpty {
            let where_ = epochs.filter { e in drops.contains { $0.x == Double(e.epoch) - 0.5 } }.map { "\($0.epoch)" }
            facts.append("The learning rate dropped before epoch\(where_.count == 1 ? "" : "s") \(where_.joined(separator: ", ")) (▼).")
        }
        if !facts.isEmpty { s += "<p>\(escapeHTML(facts.joined(separator: " ")))</p>" }

        s += "<details class=\"card\"><summary>All epochs</summary><div class=\"scroll\"><table><thead><tr>"
        s += "<th class=\"num\">Epoch</th><th>Phase</th><th class=\"num\">Loss</th><th class=\"num\">Accuracy</th>"
        s += "<th class=\"num\">Val. loss</th><th class=\"num\">Val. accuracy</th><th class=\"num\">LR</th><th class=\"num\">Time</th></tr></thead><tbody>"
        for e in epochs {
            s += "<tr><td class=\"num\">\(e.epoch)</td><td>\(escapeHTML(e.phase))</td>"
            s += "<td class=\"num\">\(String(format: "%.4f", e.loss))</td><td class=\"num\">\(Self.percent(e.accuracy))</td>"
            s += "<td class=\"num\">\(e.validationLoss.map { String(format: "%.4f", $0) } ?? "–")</td>"
            s += "<td class=\"num\">\(e.validationAccuracy.map(Self.percent) ?? "–")</td>"
            s += "<td class=\"num\">\(String(format: "%g", e.learningRate))</td><td class=\"num\">\(Self.duration(e.seconds))</td></tr>"
        }
        s += "</tbody></table></div></details></section>"
        return s
    }

    func resultsSection() -> String {
        var s = "<section id=\"results\"><h2>Test results</h2>"
        guard let metrics else {
            return s + Self.note("No \(RunFile.metrics) or \(RunFile.predictions) in this run folder, so there are no test results.") + "</section>"
        }
        if metrics.isEmpty {
            return s + Self.note("The test split has no images, so there are no test results.") + "</section>"
        }
        func row(_ name: String, _ p: Double, _ r: Double, _ f: Double, _ support: Int, average: Bool = false) -> String {
            "<tr\(average ? " class=\"avg\"" : "")><td>\(escapeHTML(name))</td><td class=\"num\">\(String(format: "%.3f", p))</td>"
                + "<td class=\"num\">\(String(format: "%.3f", r))</td><td class=\"num\">\(String(format: "%.3f", f))</td>"
                + "<td class=\"num\">\(support)</td></tr>"
        }
        s += "<div class=\"cols\"><div class=\"card\"><h3>Per class</h3><div class=\"scroll\"><table><thead><tr><th>Class</th>"
        s += "<th class=\"num\">Precision</th><th class=\"num\">Recall</th><th class=\"num\">F1</th><th class=\"num\">Support</th></tr></thead><tbody>"
        for c in metrics.perClass { s += row(c.name, c.precision, c.recall, c.f1, c.support) }
        s += row("macro average", metrics.macroAverage.precision, metrics.macroAverage.recall, metrics.macroAverage.f1, metrics.sampleCount, average: true)
        s += row("weighted average", metrics.weightedAverage.precision, metrics.weightedAverage.recall, metrics.weightedAverage.f1, metrics.sampleCount, average: true)
        s += "</tbody></table></div>"
        s += "<p>Accuracy \(Self.percent(metrics.accuracy)), top-\(metrics.topK) accuracy \(Self.percent(metrics.topKAccuracy)), "
        if let balanced = metrics.balancedAccuracy { s += "balanced accuracy \(Self.percent(balanced)) (mean recall over classes), " }
        s += "log loss \(String(format: "%.4f", metrics.logLoss)) on \(metrics.sampleCount) images.</p></div>"
        let heatMap = ConfusionHeatMap(classNames: metrics.classNames, counts: metrics.confusionMatrix,
                                       rates: metrics.normalizedConfusionMatrix)
        s += "<div class=\"card\"><h3>Confusion matrix</h3>\(heatMap.svg())"
        s += "<p class=\"legend-row\">Counts in cells; colour and percentage are the share of each true class (row).</p></div></div></section>"
        return s
    }

    func predictionsSection() -> String {
        var s = "<section id=\"predictions\"><h2>Test predictions</h2>"
        guard let predictions, !predictions.predictions.isEmpty else {
            return s + Self.note("No \(RunFile.predictions) in this run folder, so there are no example predictions.") + "</section>"
        }
        let all = predictions.predictions
        // An even spread over the test set, which is ordered by class, so every class shows.
        let shown = all.count <= gridSize ? Array(all.indices)
            : (0..<gridSize).map { $0 * all.count / gridSize }
        let mistakes = all.indices.filter { !all[$0].isCorrect }
            .sorted { all[$0].confidence > all[$1].confidence }
            .prefix(mistakeCount)
        var cache: [String: String] = [:]
        func figure(_ index: Int) -> String {
            let record = all[index]
            let name: (Int) -> String = { predictions.classNames.indices.contains($0) ? predictions.classNames[$0] : "class \($0)" }
            let image: String
            if let cached = cache[record.path] { image = cached } else {
                let file = runFolder.resolve(record.path)
                do {
                    let uri = try Thumbnail.dataURI(of: file, side: thumbnailSide, quality: thumbnailQuality)
                    image = "<img src=\"\(uri)\" width=\"\(thumbnailSide)\" height=\"\(thumbnailSide)\" alt=\"\(escapeHTML(file.lastPathComponent))\">"
                } catch {
                    image = "<div class=\"noimg\" title=\"\(escapeHTML("\(error)"))\">no preview</div>"
                }
                cache[record.path] = image
            }
            let ok = record.isCorrect
            return "<figure class=\"pred\(ok ? "" : " wrong")\" title=\"\(escapeHTML(record.path))\">\(image)<figcaption>"
                + "<div class=\"pred-name \(ok ? "ok" : "bad")\">\(ok ? "✓" : "✗") \(escapeHTML(name(record.predictedLabel))) "
                + "\(String(format: "%.0f%%", Double(record.confidence) * 100))</div>"
                + "<div class=\"truth\">true: \(escapeHTML(name(record.trueLabel)))</div></figcaption></figure>"
        }
        s += "<p class=\"legend-row\"><span><span class=\"swatch\" style=\"background:var(--good)\"></span>right</span>"
        s += "<span><span class=\"swatch\" style=\"background:var(--bad)\"></span>wrong</span>"
        s += "<span>\(shown.count) of \(all.count) test images; predicted class with its probability, then the true class.</span></p>"
        s += "<div class=\"card\"><div class=\"grid\">\(shown.map(figure).joined())</div></div>"
        s += "<h3>Most confident mistakes</h3>"
        if mistakes.isEmpty {
            s += Self.note("No mistakes on the test set.")
        } else {
            s += "<div class=\"card\"><div class=\"grid\">\(mistakes.map(figure).joined())</div></div>"
        }
        return s + "</section>"
    }

    func datasetSection() -> String {
        var s = "<section id=\"dataset\"><h2>Dataset</h2>"
        guard let dataset else {
            return s + Self.note("No \(RunFile.dataset) in this run folder, so there is no dataset summary.") + "</section>"
        }
        s += "<div class=\"cols\"><div class=\"card\"><h3>Images per class</h3>"
        s += BarChart(labels: dataset.classNames, values: dataset.imagesPerClass).svg() + "</div>"
        let splits = dataset.splits
        s += "<div class=\"card\"><h3>Splits</h3><table><tbody>"
        for (name, count) in [("training", splits.train), ("validation", splits.validation), ("test", splits.test), ("total", splits.total)] {
            let share = splits.total > 0 ? String(format: "%.0f%%", Double(count) / Double(splits.total) * 100) : "–"
            s += "<tr\(name == "total" ? " class=\"avg\"" : "")><td>\(name)</td><td class=\"num\">\(count)</td><td class=\"num\">\(share)</td></tr>"
        }
        s += "</tbody></table>"
        if let source = dataset.source { s += "<p>From <code>\(escapeHTML(source))</code>.</p>" }
        s += "<p>\(dataset.skippedFiles.count) image file\(dataset.skippedFiles.count == 1 ? "" : "s") skipped, "
        s += "\(dataset.ignoredNonImageCount) non-image file\(dataset.ignoredNonImageCount == 1 ? "" : "s") ignored.</p></div></div>"
        if !dataset.skippedFiles.isEmpty {
            let limit = 100
            s += "<div class=\"card\"><h3>Skipped files</h3><div class=\"scroll\"><table><thead><tr><th>File</th><th>Why</th></tr></thead><tbody>"
            for file in dataset.skippedFiles.prefix(limit) {
                s += "<tr><td><code>\(escapeHTML(file.path))</code></td><td>\(escapeHTML(file.reason))</td></tr>"
            }
            s += "</tbody></table></div>"
            if dataset.skippedFiles.count > limit { s += "<p>… and \(dataset.skippedFiles.count - limit) more (see \(RunFile.dataset)).</p>" }
            s += "</div>"
        }
        return s + "</section>"
    }

    func configurationSection() -> String {
        var s = "<section id=\"configuration\"><h2>Configuration</h2>"
        guard let config else {
            return s + Self.note("No \(RunFile.config) in this run folder.") + "</section>"
        }
        s += "<div class=\"card\"><div class=\"scroll\"><table><tbody>"
        if case .object(let members) = config {
            for key in members.keys.sorted() {
                let value = members[key]!
                let text: String
                switch value {
                case .array, .object: text = "<pre>\(escapeHTML(value.displayText))</pre>"
                default: text = "<code>\(escapeHTML(value.displayText))</code>"
                }
                s += "<tr><th>\(escapeHTML(key))</th><td>\(text)</td></tr>"
            }
        } else {
            s += "<tr><td><pre>\(escapeHTML(config.displayText))</pre></td></tr>"
        }
        return s + "</tbody></table></div></div></section>"
    }

    func timingsSection() -> String {
        var s = "<section id=\"timings\"><h2>Timings</h2>"
        guard let timings else {
            return s + Self.note("No \(RunFile.timings) in this run folder.") + "</section>"
        }
        s += "<div class=\"card\"><div class=\"scroll\"><table><thead><tr><th>Phase</th><th class=\"num\">Epochs</th>"
        s += "<th class=\"num\">Time</th><th class=\"num\">Share</th><th class=\"num\">Images/s</th></tr></thead><tbody>"
        for phase in timings.phases {
            let share = timings.totalSeconds > 0 ? String(format: "%.0f%%", phase.seconds / timings.totalSeconds * 100) : "–"
            s += "<tr><td>\(escapeHTML(phase.name))</td><td class=\"num\">\(phase.epochs.map(String.init) ?? "–")</td>"
            s += "<td class=\"num\">\(Self.duration(phase.seconds))</td><td class=\"num\">\(share)</td>"
            s += "<td class=\"num\">\(phase.imagesPerSecond.map { String(format: "%.1f", $0) } ?? "–")</td></tr>"
        }
        s += "<tr class=\"avg\"><td>total</td><td></td><td class=\"num\">\(Self.duration(timings.totalSeconds))</td><td></td><td></td></tr>"
        return s + "</tbody></table></div></div></section>"
    }
}
