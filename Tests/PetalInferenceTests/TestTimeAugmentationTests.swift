import Foundation
import PetalData
import PetalInference
import PetalTestSupport
import XCTest

/// `--tta flip`: each image's probabilities are the mean of the model's on the image and on its
/// horizontal mirror, each computed separately; shared across threads with no state.
final class TestTimeAugmentationTests: XCTestCase {
    private var folder: URL!

    override func setUp() { folder = Fixtures.temporaryDirectory("inference-tta") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    private func mirrored(_ image: RGBImage) -> RGBImage {
        var out = image
        for y in 0..<image.height {
            for x in 0..<image.width {
                for c in 0..<3 { out.pixels[(y * image.width + x) * 3 + c] = image.pixels[(y * image.width + image.width - 1 - x) * 3 + c] }
            }
        }
        return out
    }

    func testFlipIsTheMeanOfTheImageAndItsMirror() throws {
        // A random base barely tells images apart; a sharper head makes the mirror's difference show.
        let model = try TinyModels.model(in: folder, classes: ["daisy", "rose", "tulip"]) { model in
            for parameter in model.network.weights where parameter.name.hasPrefix("predictions") {
                withExtendedLifetime(parameter.value) { for i in parameter.value.floats.indices { parameter.value.floats[i] *= 1000 } }
            }
        }
        let plain = try ImageClassifier(contentsOf: model)
        let flip = try ImageClassifier(contentsOf: model, testTimeAugmentation: .flip)
        XCTAssertEqual(flip.testTimeAugmentation, .flip)
        XCTAssertEqual(plain.testTimeAugmentation, .none)
        // At the input size (32), so no resizing comes between the mirror and the model.
        let images = (0..<5).map { TinyModels.image(width: 32, height: 32, seed: 40 + UInt64($0)) }
        let expected = zip(try plain.probabilities(images), try plain.probabilities(images.map(mirrored))).map { a, b in
            zip(a, b).map { ($0 + $1) / 2 }
        }
        let answer = try flip.probabilities(images)
        var differs = false
        for (row, (got, want)) in zip(answer, expected).enumerated() {
            for (j, (g, w)) in zip(got, want).enumerated() { XCTAssertEqual(g, w, accuracy: 1e-6, "image \(row) class \(j)") }
            XCTAssertEqual(got.reduce(0, +), 1, accuracy: 1e-5)
            if zip(got, try plain.probabilities([images[row]])[0]).contains(where: { abs($0 - $1) > 1e-4 }) { differs = true }
        }
        XCTAssertTrue(differs, "the mirror changed nothing: the test would not tell flip from none")
        // The files path (decode, batches) gives the same as the images path.
        let files = try TinyModels.files(in: folder.appendingPathComponent("images"), count: 3)
        let decoded = try files.map { try flip.decode(.file($0)) }
        let byFiles = try flip.probabilities(files: files).map { try $0.get() }
        XCTAssertEqual(byFiles, try flip.probabilities(decoded))
    }

    func testFlipSharedByThreadsGivesOneThreadsAnswers() throws {
        let flip = try ImageClassifier(contentsOf: try TinyModels.model(in: folder), testTimeAugmentation: .flip)
        let images = (0..<4).map { TinyModels.image(width: 32, height: 32, seed: 70 + UInt64($0)) }
        let expected = try flip.probabilities(images)
        let answers = UnsafeMutableBufferPointer<[[Float]]>.allocate(capacity: 16)
        answers.initialize(repeating: [])
        defer { answers.deallocate() }
        nonisolated(unsafe) let slots = answers
        DispatchQueue.concurrentPerform(iterations: 16) { i in slots[i] = (try? flip.probabilities(images)) ?? [] }
        for i in 0..<16 { XCTAssertEqual(answers[i], expected, "call \(i)") }
    }
}
