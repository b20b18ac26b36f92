import XCTest
import Foundation
import PetalTestSupport
import PetalData
import PetalTraining
@testable import PetalEvaluation

final class ReportTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = Fixtures.temporaryDirectory("petal-report")
    }

    override func tearDownWithError() throws {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    func testReportIsSelfContainedAndHasEverySection() throws {
        try SyntheticRun.make(in: folder)
        let url = try HTMLReport.write(runFolder: folder)
        XCTAssertEqual(url.lastPathComponent, "report.html")
        let html = try String(contentsOf: url, encoding: .utf8)

        // Nothing fetched: no scripts, stylesheets, or network addresses; every image inline.
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("<link"))
        XCTAssertFalse(html.contains("http://") || html.contains("https://"))
        XCTAssertFalse(html.contains("url("))
        let sources = html.components(separatedBy: "src=\"").dropFirst()
        XCTAssertFalse(sources.isEmpty)
        XCTAssertTrue(sources.allSatisfy { $0.hasPrefix("data:image/jpeg;base64,") })
        XCTAssertTrue(html.contains("<meta name=\"viewport\""))

        // 40 test images, every fifth wrong: a 24-image grid plus all 8 mistakes, all with thumbnails.
        XCTAssertEqual(count("<figure class=\"pred", in: html), 24 + 8)
        XCTAssertEqual(count("data:image/jpeg;base64,", in: html), 24 + 8)
        XCTAssertFalse(html.contains("no preview"))
        let wrongInGrid = (0..<24).map { $0 * 40 / 24 }.filter { $0 % 5 == 3 }.count
        XCTAssertEqual(count("<figure class=\"pred wrong\"", in: html), wrongInGrid + 8)

        // Header and cards: 32 of 40 right.
        XCTAssertTrue(html.contains("<span class=\"big\">80.0%</span>"))
        XCTAssertTrue(html.contains("mobilenet_v2 · 5 classes · 40 test images"))
        // Both charts: the fine-tuning rule and two learning-rate drops each.
        XCTAssertEqual(count("class=\"chart\"", in: html), 2)
        XCTAssertEqual(count("class=\"rule-label\">fine-tuning</text>", in: html), 2)
        XCTAssertEqual(count("<g class=\"lr-drop\">", in: html), 4)
        XCTAssertTrue(html.contains("epoch 5: learning rate 0.001 → 0.0002"))
        XCTAssertTrue(html.contains("epoch 11: learning rate 1e-05 → 2e-06"))
        // The heat map: 25 cells.
        XCTAssertEqual(count("<g><title>true ", in: html), 25)
        // Dataset, configuration, timings.
        XCTAssertTrue(html.contains("truncated JPEG data"))
        XCTAssertTrue(html.contains("<th>batch_size</th><td><code>32</code></td>"))
        XCTAssertTrue(html.contains("&quot;zoom&quot;"))
        XCTAssertTrue(html.contains("25 min 27 s"))
        XCTAssertFalse(html.contains("class=\"note"))

        // No temporary file left beside the report.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testMissingFilesLeaveNotesInsteadOfSections() throws {
        try SyntheticRun.make(in: folder, includeAll: false)
        try FileManager.default.removeItem(at: RunFolder(folder).url(.predictions))
        let report = try HTMLReport(runFolder: folder)
        XCTAssertEqual(report.problems, [])
        let html = report.render()
        XCTAssertTrue(html.contains("No predictions.json in this run folder"))
        XCTAssertTrue(html.contains("No metrics.json or predictions.json"))
        XCTAssertTrue(html.contains("No dataset.json"))
        XCTAssertTrue(html.contains("No config.json"))
        XCTAssertTrue(html.contains("No timings.json"))
        XCTAssertEqual(count("class=\"chart\"", in: html), 2)   // history is there
    }

    func testUnreadableFilesAreListedAndThePageIsStillWritten() throws {
        try SyntheticRun.make(in: folder)
        try Data("{\"epochs\": [{\"epoch\": 1}]}".utf8).write(to: RunFolder(folder).url(.history))
        // A prediction whose image is gone gets a placeholder, not a failure.
        let broken = folder.appendingPathComponent("test-images/daisy-0.jpg")
        try Data("not a jpeg".utf8).write(to: broken)
        let report = try HTMLReport(runFolder: folder)
        XCTAssertEqual(report.problems.count, 1)
        XCTAssertTrue(report.problems[0].contains("history.json"), report.problems[0])
        XCTAssertTrue(report.problems[0].contains("missing key 'phase'"), report.problems[0])
        try report.write()
        let html = try String(contentsOf: RunFolder(folder).url(.report), encoding: .utf8)
        XCTAssertTrue(html.contains("Some files could not be read"))
        XCTAssertTrue(html.contains("no preview"))
        XCTAssertTrue(html.contains("daisy-0.jpg: not a JPEG or PNG image"))
    }

    func testAMissingRunFolderIsAnError() {
        let missing = folder.appendingPathComponent("nope")
        XCTAssertThrowsError(try HTMLReport.write(runFolder: missing)) {
            XCTAssertEqual($0 as? RunFolderError, .notARun(path: missing.path))
        }
    }

    func testThumbnailsAreSmallSquareCentreCropsWithTheRightColours() throws {
        try SyntheticRun.make(in: folder, includeAll: false)
        for file in ["test-images/rose-1.jpg", "test-images/rose-0.png"] {
            let data = try Thumbnail.jpeg(of: folder.appendingPathComponent(file), side: 96, quality: 80)
            XCTAssertLessThan(data.count, 8_000, file)
            let thumbnailURL = folder.appendingPathComponent("thumb.jpg")
            try data.write(to: thumbnailURL)
            let thumbnail = try ImageDecoder.decode(contentsOf: thumbnailURL)
            XCTAssertEqual([thumbnail.width, thumbnail.height], [96, 96])
            // The rose disc (200, 30, 60, shaded) is centred at x 68 (variant 0) or 80 (variant 1)
            // of 160, y 60, radius 30 or 34; the thumbnail maps source x 20...140 to 0...96.
            // Pixel (38, 64) is source (67.5, 80): in the petals of both, off the brown centre.
            let x = 38, y = 64
            let i = (y * 96 + x) * 3
            let pixel = Array(thumbnail.pixels[i..<i + 3])
            XCTAssertGreaterThan(Int(pixel[0]), Int(pixel[1]) + 60, "\(file): \(pixel) is not rose-red")
            // The corners show the green background (the crop kept the middle 120×120).
            XCTAssertGreaterThan(Int(thumbnail.pixels[1]), Int(thumbnail.pixels[0]) + 30, file)
        }
    }

    func testUndecodableImagesAreErrorsNamingTheFile() throws {
        let text = folder.appendingPathComponent("notes.jpg")
        try Data("hello".utf8).write(to: text)
        let truncated = folder.appendingPathComponent("cut.jpg")
        let jpeg = try JPEGEncoder.encode(SyntheticRun.flower(classIndex: 0, variant: 0))
        try jpeg.prefix(20).write(to: truncated)
        let missing = folder.appendingPathComponent("gone.jpg")
        for file in [text, truncated, missing] {
            XCTAssertThrowsError(try Thumbnail.dataURI(of: file)) {
                XCTAssertTrue("\($0)".hasPrefix("\(file.path): "), "\($0)")
            }
        }
    }
}
