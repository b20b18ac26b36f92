import Foundation
import PetalData
import PetalInference
import PetalTestSupport
import XCTest

/// The README's inference example, compiled and run here on a tiny model. The test also
/// checks that the README shows exactly this code, so the two cannot drift apart.
final class ReadmeExampleTests: XCTestCase {
    // README-INFERENCE-BEGIN
    func describePhotos(model: URL, photos: [URL], upload: Data) async throws -> [String] {
        // Load once (a run folder or its model.safetensors); share it between threads and tasks.
        let classifier = try ImageClassifier(contentsOf: model)

        // Files, decoded in parallel: each gets its top classes, or its own error.
        var lines: [String] = []
        for (photo, result) in zip(photos, try classifier.classify(files: photos, top: 3)) {
            switch result {
            case .success(let classification):
                let best = classification.top[0]
                lines.append("\(photo.lastPathComponent): \(best.className) \(best.probability)")
            case .failure(let error):
                lines.append("\(photo.lastPathComponent): \(error)")
            }
        }

        // Encoded bytes (an upload) or decoded pixels, from many tasks at once.
        try await withThrowingTaskGroup(of: Classification.self) { group in
            group.addTask { try classifier(.encoded(upload, name: "upload.jpg"), top: 1) }
            group.addTask { try classifier(.pixels(RGBImage(width: 64, height: 48)), top: 1) }
            for try await answer in group { lines.append("in memory: \(answer.top[0].className)") }
        }
        return lines
    }
    // README-INFERENCE-END

    func testReadmeExampleRuns() async throws {
        let folder = Fixtures.temporaryDirectory("inference-readme")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try TinyModels.model(in: folder, classes: ["daisy", "rose"])
        let photos = try TinyModels.files(in: folder.appendingPathComponent("photos"), count: 2)
            + [folder.appendingPathComponent("photos/missing.jpg")]
        let upload = try Data(contentsOf: photos[0])
        let lines = try await describePhotos(model: folder, photos: photos, upload: upload)
        XCTAssertEqual(lines.count, 5, "\(lines)")
        XCTAssertTrue(lines[0].hasPrefix("img000.jpg: daisy ") || lines[0].hasPrefix("img000.jpg: rose "), lines[0])
        XCTAssertTrue(lines[2].hasPrefix("missing.jpg: ") && lines[2].contains("cannot read the file"), lines[2])
        XCTAssertEqual(lines.filter { $0.hasPrefix("in memory: ") }.count, 2)
    }

    func testReadmeShowsThisExample() throws {
        let example = try ReadmeExample.code(in: #filePath, begin: "README-INFERENCE-BEGIN", end: "README-INFERENCE-END")
        XCTAssertTrue(try ReadmeExample.isShownInReadme(example), "README.md must show the example of this file verbatim")
    }
}
