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
        is self-contained (no network, no scripts) and can be opened anywhere, also on a phone. \
        Only Petal run folders are read; --output replaces only a page Petal wrote.
        """)

    @Argument(help: ArgumentHelp("The run folder.", valueName: "run"))
    var runFolder: String

    @Option(help: "Write the page here instead of RUN/report.html.")
    var output: String?

    func run() throws {
        let report = try HTMLReport(runFolder: URL(fileURLWithPath: runFolder))
        for problem in report.problems {
            FileHandle.standardError.write(Data("petal report: warning: \(problem)\n".utf8))
        }
        if let output {
            let url = URL(fileURLWithPath: output)
            try OutputFile.write(Data(report.render().utf8), to: url, replacingIf: HTMLReport.isPetalReport)
            print("Wrote \(url.path)")
        } else {
            print("Wrote \(try report.write().path)")
        }
    }
}
