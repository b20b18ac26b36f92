import XCTest
import Foundation
import PetalTestSupport
import PetalData
@testable import PetalEvaluation

/// Renders report.html in headless Chromium (Debian's `chromium`) and checks the screenshot
/// like a user would: not blank, charts, heat map, thumbnails and the green/red borders
/// drawn. Skips, saying so, where Chromium is not installed.
final class ChromiumRenderTests: XCTestCase {
    static func chromium() -> String? {
        var candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        if let path = ProcessInfo.processInfo.environment["PETAL_CHROMIUM"] { candidates.insert(path, at: 0) }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Takes a screenshot of `page` at `width`×`height` CSS pixels.
    static func screenshot(_ page: URL, width: Int, height: Int, to png: URL, chromium: String) throws {
        let profile = Fixtures.temporaryDirectory("petal-chromium-profile")
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                             "--user-data-dir=\(profile.path)", "--screenshot=\(png.path)",
                             "--window-size=\(width),\(height)", page.absoluteString]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(180)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        if process.isRunning {
            process.terminate()
            XCTFail("chromium did not finish within 180 s")
        }
        process.waitUntilExit()
    }

    func testReportRendersWithChartsHeatMapAndThumbnails() throws {
        guard let chromium = Self.chromium() else {
            print("ChromiumRenderTests: skipping, no chromium (apt-get install chromium, or set PETAL_CHROMIUM)")
            throw XCTSkip("chromium is not installed")
        }
        let folder = Fixtures.temporaryDirectory("petal-report-render")
        // PETAL_KEEP_SCREENSHOTS keeps the folder to look at the pictures.
        let keep = ProcessInfo.processInfo.environment["PETAL_KEEP_SCREENSHOTS"] != nil
        defer { if !keep { try? FileManager.default.removeItem(at: folder) } }
        try SyntheticRun.make(in: folder)
        let page = try HTMLReport.write(runFolder: folder)

        let desktop = folder.appendingPathComponent("desktop.png")
        try Self.screenshot(page, width: 1200, height: 4200, to: desktop, chromium: chromium)
        let phone = folder.appendingPathComponent("phone.png")
        try Self.screenshot(page, width: 390, height: 7000, to: phone, chromium: chromium)
        if keep { print("ChromiumRenderTests: screenshots in \(folder.path)") }

        let image = try ImageDecoder.decode(contentsOf: desktop)
        XCTAssertEqual([image.width, image.height], [1200, 4200])
        var counts: [String: Int] = [:]
        func near(_ r: Int, _ g: Int, _ b: Int, _ c: (Int, Int, Int), _ tolerance: Int = 4) -> Bool {
            abs(r - c.0) <= tolerance && abs(g - c.1) <= tolerance && abs(b - c.2) <= tolerance
        }
        for i in stride(from: 0, to: image.pixels.count, by: 3) {
            let r = Int(image.pixels[i]), g = Int(image.pixels[i + 1]), b = Int(image.pixels[i + 2])
            if near(r, g, b, (22, 163, 74)) { counts["green border", default: 0] += 1 }
            if near(r, g, b, (220, 38, 38)) { counts["red border", default: 0] += 1 }
            if near(r, g, b, (234, 88, 12)) { counts["validation line", default: 0] += 1 }
            if near(r, g, b, (124, 58, 237), 12) { counts["fine-tuning rule", default: 0] += 1 }
            if near(r, g, b, (217, 119, 6)) { counts["LR drop marker", default: 0] += 1 }
            // Heat-map cells at 75 % (classes with 6 of 8 right) are exactly Blues(0.75).
            if near(r, g, b, (33, 113, 181), 2) { counts["heat cell 75%", default: 0] += 1 }
            // Rose petals in the thumbnails: dark red with more blue than green, unlike the red border.
            if (100...215).contains(r) && g < 50 && (25...80).contains(b) && b > g + 10 { counts["rose thumbnail", default: 0] += 1 }
        }
        let distinct = Self.distinctColors(image)
        print("ChromiumRenderTests: \(distinct) distinct colours; \(counts.sorted { $0.key < $1.key })")
        XCTAssertGreaterThan(distinct, 3000, "the page looks blank or flat")
        // 24 + 8 figures with 3 px borders around ~110 px thumbnails: thousands of border pixels.
        XCTAssertGreaterThan(counts["green border"] ?? 0, 5000)
        XCTAssertGreaterThan(counts["red border"] ?? 0, 2000)
        XCTAssertGreaterThan(counts["validation line"] ?? 0, 200)
        XCTAssertGreaterThan(counts["fine-tuning rule"] ?? 0, 50)
        XCTAssertGreaterThan(counts["LR drop marker"] ?? 0, 50)
        XCTAssertGreaterThan(counts["heat cell 75%"] ?? 0, 2000)   // three cells of ~60×60
        XCTAssertGreaterThan(counts["rose thumbnail"] ?? 0, 1000)

        let small = try ImageDecoder.decode(contentsOf: phone)
        XCTAssertEqual(small.width, 390)
        XCTAssertGreaterThan(Self.distinctColors(small), 3000)
    }

    static func distinctColors(_ image: RGBImage) -> Int {
        var colors = Set<UInt32>()
        for i in stride(from: 0, to: image.pixels.count, by: 3) {
            let r = UInt32(image.pixels[i]), g = UInt32(image.pixels[i + 1]), b = UInt32(image.pixels[i + 2])
            colors.insert(r << 16 | g << 8 | b)
        }
        return colors.count
    }
}
