import Foundation
import PetalCore
import PetalData
import PetalInference
import PetalModels
import PetalTestSupport
import XCTest

final class ImageClassifierTests: XCTestCase {
    /// A small random-weights model saved and loaded back classifies pixels and encoded
    /// bytes of the same image alike, with probabilities that sum to 1.
    func testLoadsAModelAndClassifiesPixelsAndBytes() throws {
        let folder = Fixtures.temporaryDirectory("inference")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        let model = try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: ["a", "b", "c"],
                                           inputSize: 32, base: .none, seed: 7)
        try model.save(to: url)
        let classifier = try ImageClassifier(contentsOf: folder)
        XCTAssertEqual(classifier.classNames, ["a", "b", "c"])
        var image = RGBImage(width: 32, height: 32)
        for i in image.pixels.indices { image.pixels[i] = UInt8(truncatingIfNeeded: i * 7) }
        let png = try PNGEncoder.encode(image)
        let fromPixels = try classifier(.pixels(image), top: 2)
        let fromBytes = try classifier.classify(.encoded(png, name: "upload"), top: 2)
        XCTAssertEqual(fromPixels.probabilities.reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertEqual(fromPixels, fromBytes)
        XCTAssertEqual(fromPixels.top.count, 2)
        XCTAssertGreaterThanOrEqual(fromPixels.top[0].probability, fromPixels.top[1].probability)
    }
}
