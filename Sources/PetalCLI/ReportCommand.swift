import ArgumentParser
import Foundation
import PetalEvaluation

/// `petal report RUN`: rebuild report.html from the files a run folder holds.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Rebuild a run folder's report.html (training curves, metrics, predictions, dataset, timings).",
        discussion: """
        Reads history.json, metrics.json or predictions.json, dataset.json, config.json and \
        timings.json from the run folder; a missing file leaves a note in its section. The page \
        is self-contained (no network, no scripts) and can be opened anywhere, also on a phone.
        """)

    @Argument(help: ArgumentHelp("The run folder.", valueName: "run"))
    var runFolder: String

    @Option(help: "Write the page here instead of RUN/report.html.")
    var output: String?

    func run() throws {
        let report = try HTMLReport(runFolder: URL(fileURLWithPath: runFolder))
        for problem in report.problems {
            FileHandle.standardError.write(Data("warning: \(problem)\n".utf8))
        }
        let url = try report.write(to: output.map { URL(fileURLWithPath: $0) })
        print("Wrote \(url.path)")
    }
}
