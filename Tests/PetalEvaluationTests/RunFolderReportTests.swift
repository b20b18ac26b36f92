import Foundation
import XCTest
import PetalData
import PetalTraining
import PetalTestSupport
@testable import PetalEvaluation

/// The report writes only into Petal run folders, and leaves any other folder as it was.
final class RunFolderReportTests: XCTestCase {
    func testAReportOfADatasetFolderIsRefusedAndWritesNothing() throws {
        let dataset = Fixtures.temporaryDirectory("petal-report-dataset")
        defer { try? FileManager.default.removeItem(at: dataset) }
        for name in ["daisy", "rose"] {
            let folder = dataset.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try JPEGEncoder.encode(SyntheticRun.flower(classIndex: 0, variant: 0))
                .write(to: folder.appendingPathComponent("\(name).jpg"))
        }
        // Even with files named as a run's: without state.json it is not a run.
        try Data("{}".utf8).write(to: dataset.appendingPathComponent("metrics.json"))
        let before = try FolderSnapshot(dataset)
        XCTAssertThrowsError(try HTMLReport.write(runFolder: dataset)) {
            XCTAssertEqual($0 as? RunFolderError, .notARun(path: dataset.path))
        }
        XCTAssertEqual(try FolderSnapshot(dataset), before)
    }

    func testAReportOfARunReplacesOnlyItsOwnPage() throws {
        let folder = Fixtures.temporaryDirectory("petal-report-run")
        defer { try? FileManager.default.removeItem(at: folder) }
        try SyntheticRun.make(in: folder, includeAll: false)
        let url = try HTMLReport.write(runFolder: folder)
        XCTAssertEqual(url, RunFolder(folder).url(.report))
        XCTAssertTrue(HTMLReport.isPetalReport(url))
        let page = folder.appendingPathComponent("mine.html")
        try Data("<html>mine</html>".utf8).write(to: page)
        XCTAssertFalse(HTMLReport.isPetalReport(page))
    }
}
