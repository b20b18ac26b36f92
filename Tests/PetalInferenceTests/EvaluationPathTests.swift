import Foundation
import PetalCore
import PetalData
import PetalInference
import PetalLayers
import PetalModels
import PetalTestSupport
import PetalTraining
import PetalWeights
import XCTest

/// The library's preprocessing is the training's evaluation path: the same probabilities as
/// `Trainer.evaluate` over `ImageCache` and `BatchLoader.evaluation`, EXIF orientation
/// applied, and a backbone's ImageNet head as PyTorch computes it.
final class EvaluationPathTests: XCTestCase {
    private var folder: URL!

    override func setUp() { folder = Fixtures.temporaryDirectory("inference-eval") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// What the trainer's evaluation gives for these files, with the model file loaded back.
    private func trainerProbabilities(model url: URL, files: [URL], batchSize: Int) throws -> (kept: [URL], rows: [[Float]]) {
        let model = try TransferClassifier.load(from: url)
        let cache = try ImageCache(files: files.map { LabeledFile(url: $0, label: 0) }, side: model.inputSize)
        let loader = BatchLoader.evaluation(cache: cache, batchSize: batchSize, normalization: model.normalization)
        return (cache.files.map(\.url), try Trainer.evaluate(model, loader).probabilities)
    }

    /// Bit-equal to `Trainer.evaluate` on the same files in the same batches (a failure
    /// skipped by both), and equal within float rounding image by image.
    func testSameProbabilitiesAsTheTrainersEvaluation() throws {
        let url = try TinyModels.model(in: folder, classes: ["x", "y", "z", "w"], inputSize: 40,
                                       architecture: .efficientNetLite(0))
        var files = try TinyModels.files(in: folder.appendingPathComponent("images"), count: 11)
        let corrupt = folder.appendingPathComponent("images/corrupt.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0]).writeAtomically(to: corrupt)
        files.insert(corrupt, at: 4)
        let classifier = try ImageClassifier(contentsOf: url)
        let trainer = try trainerProbabilities(model: url, files: files, batchSize: 4)
        let results = try classifier.probabilities(files: files, batchSize: 4)
        XCTAssertEqual(trainer.kept, files.filter { $0 != corrupt })
        XCTAssertEqual(results.compactMap { try? $0.get() }, trainer.rows)
        XCTAssertThrowsError(try results[4].get())
        for (file, row) in zip(trainer.kept, trainer.rows) {
            let alone = try classifier.classify(.file(file)).probabilities
            for (a, b) in zip(alone, row) { XCTAssertEqual(a, b, accuracy: 1e-5, file.lastPathComponent) }
        }
    }

    /// The same on real photos of the shared flowers (skipped where they are absent).
    func testSameProbabilitiesAsTheTrainersEvaluationOnFlowers() throws {
        guard let flowers = Fixtures.flowers else {
            throw XCTSkip("the shared flowers dataset is absent (PETAL_FLOWERS); skipping the real-photo comparison")
        }
        let items = try ImageFolder(flowers).items
        let files = stride(from: 0, to: items.count, by: max(1, items.count / 40)).map { items[$0].url }
        let url = try TinyModels.model(in: folder, classes: ["a", "b", "c", "d", "e"], inputSize: 64)
        let trainer = try trainerProbabilities(model: url, files: files, batchSize: ImageClassifier.batchSize)
        let results = try ImageClassifier(contentsOf: url).probabilities(files: files)
        XCTAssertEqual(trainer.kept.count, files.count)
        XCTAssertEqual(results.compactMap { try? $0.get() }, trainer.rows)
    }

    /// A JPEG whose EXIF says "turn 90° clockwise" is classified upright.
    func testEXIFOrientationIsApplied() throws {
        let classifier = try ImageClassifier(contentsOf: try TinyModels.model(in: folder))
        let upright = TinyModels.image(width: 48, height: 32, seed: 9)
        let stored = upright.oriented(8)   // stored turned a quarter counter-clockwise...
        let jpeg = Self.withExifOrientation(try JPEGEncoder.encode(stored, quality: 100), 6)   // ...EXIF turns it back
        let seen = try classifier.decode(.encoded(jpeg, name: "turned.jpg"))
        func distance(_ image: RGBImage) throws -> Double {
            let other = try classifier.decode(.encoded(try JPEGEncoder.encode(image, quality: 100), name: "other.jpg"))
            return zip(seen.pixels, other.pixels).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(seen.pixels.count)
        }
        let (toUpright, toStored) = (try distance(upright), try distance(stored))
        XCTAssertLessThan(toUpright, 3, "mean difference to the upright picture")
        XCTAssertGreaterThan(toStored, 20, "mean difference to the picture as stored")
        XCTAssertEqual(try classifier.classify(.encoded(jpeg, name: "turned.jpg")), try classifier.classify(.pixels(seen)))
    }

    /// `ImageClassifier(backbone:)` is EfficientNet-Lite0 with its ImageNet head: PyTorch's
    /// probabilities on the reference pixels, and its top-5 classes by name.
    func testBackboneImageNetClassifierMatchesPyTorch() throws {
        guard PetalPaths.installedWeights(named: "efficientnet-lite0-57934424.pth") != nil else {
            throw XCTSkip("efficientnet-lite0-57934424.pth is not installed (run scripts/setup.sh); skipping")
        }
        let classifier = try ImageClassifier(backbone: .efficientNetLite(0))
        XCTAssertEqual(classifier.inputSize, 224)
        XCTAssertEqual(classifier.classNames.count, 1000)
        let pixels = try SafetensorsFile.read(Fixtures.url("backbones/images.safetensors")).tensors["images_224"]!.toArray()
        let reference = try SafetensorsFile.read(Fixtures.url("backbones/efficientnet_lite0.safetensors"))
        let logits = reference.tensors["lite0.logits"]!
        let expected = try SoftmaxCrossEntropy.softmax(logits)
        let top5 = try reference.tensors["lite0.top5"]!.toArray().map { Int($0) }
        let per = 224 * 224 * 3
        let images = (0..<3).map { i in
            RGBImage(width: 224, height: 224, pixels: pixels[(i * per)..<((i + 1) * per)].map { UInt8($0) })
        }
        let rows = try classifier.probabilities(images)
        for (i, row) in rows.enumerated() {
            let worst = zip(row, expected[(i * 1000)..<((i + 1) * 1000)]).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 1e-4, "image \(i)")
            let top = classifier.classification(row, top: 5).top
            XCTAssertEqual(top.map(\.index), Array(top5[(i * 5)..<((i + 1) * 5)]), "image \(i)")
            XCTAssertEqual(top.map(\.className), top.map { ImageNetClasses.names[$0.index] })
        }
        // The fixture's JPEG of the cat: the same best class, through the file path.
        let cat = try classifier.classify(.file(Fixtures.url("backbones/images/chelsea.jpg")), top: 1)
        XCTAssertEqual(cat.top[0].index, top5[0])
    }

    /// A backbone with no installed classifier weights gets a clear error, not a crash.
    func testBackboneWithoutClassifierWeightsIsAClearError() {
        XCTAssertThrowsError(try ImageClassifier(backbone: .efficientNetLite(3))) {
            guard case InferenceError.noImageNetClassifier("efficientnet-lite3", _) = $0 else {
                return XCTFail("unexpected error \($0)")
            }
        }
        XCTAssertThrowsError(try ImageClassifier(backbone: .efficientNetLite(0), weights: .download))
        let missing = folder.appendingPathComponent("none.pth")
        XCTAssertThrowsError(try ImageClassifier(backbone: .efficientNetLite(0), weights: .file(missing))) {
            XCTAssertTrue("\($0)".contains(missing.path), "\($0)")
        }
    }

    /// A JPEG with an APP1 Exif segment carrying `orientation` (little-endian TIFF), after SOI.
    static func withExifOrientation(_ jpeg: Data, _ orientation: UInt8) -> Data {
        let tiff: [UInt8] = [0x49, 0x49, 42, 0, 8, 0, 0, 0, 1, 0,       // header, one entry
                             0x12, 0x01, 3, 0, 1, 0, 0, 0, orientation, 0, 0, 0,
                             0, 0, 0, 0]
        let payload = Array("Exif".utf8) + [0, 0] + tiff
        let length = payload.count + 2
        var out = Data(jpeg.prefix(2))
        out.append(contentsOf: [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 255)] + payload)
        out.append(jpeg.dropFirst(2))
        return out
    }
}
