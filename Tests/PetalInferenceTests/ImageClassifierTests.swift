import Foundation
import PetalCore
import PetalData
import PetalInference
import PetalModels
import PetalTestSupport
import XCTest

final class ImageClassifierTests: XCTestCase {
    private var folder: URL!

    override func setUp() { folder = Fixtures.temporaryDirectory("inference") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// A small random-weights model saved and loaded back classifies pixels and encoded
    /// bytes of the same image alike, with probabilities that sum to 1.
    func testLoadsAModelAndClassifiesPixelsAndBytes() throws {
        _ = try TinyModels.model(in: folder)
        let classifier = try ImageClassifier(contentsOf: folder)
        XCTAssertEqual(classifier.classNames, ["a", "b", "c"])
        XCTAssertEqual(classifier.inputSize, 32)
        XCTAssertEqual(classifier.source.lastPathComponent, "model.safetensors")
        let image = TinyModels.image(width: 32, height: 32, seed: 3)
        let png = try PNGEncoder.encode(image)
        let fromPixels = try classifier(.pixels(image), top: 2)
        let fromBytes = try classifier.classify(.encoded(png, name: "upload"), top: 2)
        XCTAssertEqual(fromPixels.probabilities.reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertEqual(fromPixels, fromBytes)
        XCTAssertEqual(fromPixels.top.count, 2)
        XCTAssertGreaterThanOrEqual(fromPixels.top[0].probability, fromPixels.top[1].probability)
    }

    /// A file, its bytes and its decoded pixels (any size) give the same probabilities; a
    /// batch gives each image what it gets alone (within float rounding of batched kernels).
    func testFilesBytesPixelsAndBatchesAgree() throws {
        let classifier = try ImageClassifier(contentsOf: try TinyModels.model(in: folder))
        let files = try TinyModels.files(in: folder.appendingPathComponent("images"), count: 5)
        let batch = try classifier.classify(files.map { .file($0) }, top: 3)
        for (url, inBatch) in zip(files, batch) {
            let alone = try classifier.classify(.file(url), top: 3)
            let bytes = try classifier.classify(.encoded(try Data(contentsOf: url), name: url.lastPathComponent), top: 3)
            let pixels = try classifier.classify(.pixels(try ImageDecoder.decode(contentsOf: url)), top: 3)
            XCTAssertEqual(alone, bytes, url.lastPathComponent)
            XCTAssertEqual(alone.top.map(\.index), pixels.top.map(\.index), url.lastPathComponent)
            for (a, b) in zip(alone.probabilities, inBatch.probabilities) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            XCTAssertEqual(alone.top.map(\.className), alone.top.map { classifier.classNames[$0.index] })
        }
        // Different images get different answers: the test would notice inputs being ignored.
        XCTAssertNotEqual(batch[0].probabilities, batch[1].probabilities)
    }

    /// Top-k: most probable first, ties by the lower index, at most the number of classes.
    func testClassificationOrdersTopClasses() throws {
        let classifier = try ImageClassifier(contentsOf: try TinyModels.model(in: folder))
        let result = classifier.classification([0.2, 0.5, 0.3], top: 2)
        XCTAssertEqual(result.top, [ClassScore(index: 1, className: "b", probability: 0.5),
                                    ClassScore(index: 2, className: "c", probability: 0.3)])
        XCTAssertEqual(classifier.classification([0.4, 0.2, 0.4], top: 3).top.map(\.index), [0, 2, 1])
        XCTAssertEqual(classifier.classification([0.4, 0.2, 0.4], top: 10).top.count, 3)
        XCTAssertEqual(classifier.classification([0.4, 0.2, 0.4], top: 0).top, [])
    }

    /// A model whose weights hold NaN is refused at load, naming the file and the tensor.
    func testRefusesAModelWithNonFiniteWeights() throws {
        let url = try TinyModels.model(in: folder) { model in
            let kernel = model.network.weights.first { $0.name.hasPrefix("predictions") }!
            withExtendedLifetime(kernel.value) { kernel.value.floats[1] = .nan }
        }
        XCTAssertThrowsError(try ImageClassifier(contentsOf: url)) { error in
            guard case let InferenceError.nonFiniteWeights(path, tensor, count) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(path, url.path)
            XCTAssertTrue(tensor.hasPrefix("predictions"), tensor)
            XCTAssertEqual(count, 1)
            XCTAssertTrue("\(error)".contains(url.path) && "\(error)".contains(tensor), "\(error)")
        }
    }

    /// Finite weights so large that the output overflows give an error, never NaN probabilities.
    func testOverflowingOutputIsAnErrorNotNaN() throws {
        let url = try TinyModels.model(in: folder) { model in
            let kernel = model.network.weights.first { $0.name.hasPrefix("predictions") && $0.shape.count == 2 }!
            let values = kernel.value.floats
            // The random base's features are tiny: the largest float plus a little overflows.
            withExtendedLifetime(kernel.value) { for i in values.indices { values[i] = .greatestFiniteMagnitude } }
            let bias = model.network.weights.first { $0.name.hasPrefix("predictions") && $0.shape.count == 1 }!
            withExtendedLifetime(bias.value) { for i in bias.value.floats.indices { bias.value.floats[i] = .greatestFiniteMagnitude } }
        }
        let classifier = try ImageClassifier(contentsOf: url)
        let image = TinyModels.image(width: 32, height: 32, seed: 5)
        XCTAssertThrowsError(try classifier.classify(.pixels(image))) { error in
            guard case InferenceError.nonFiniteOutput(url.path, 1, 1) = error else { return XCTFail("unexpected error \(error)") }
        }
    }

    /// Bad input gets errors naming the file, part or problem, never a crash.
    func testBadInputsGetClearErrors() throws {
        let classifier = try ImageClassifier(contentsOf: try TinyModels.model(in: folder))
        XCTAssertThrowsError(try classifier.classify(.encoded(Data("not an image".utf8), name: "upload-7"))) {
            XCTAssertTrue("\($0)".contains("upload-7") && "\($0)".contains("not a JPEG or PNG"), "\($0)")
        }
        let missing = folder.appendingPathComponent("missing.jpg")
        XCTAssertThrowsError(try classifier.classify(.file(missing))) {
            XCTAssertTrue("\($0)".contains(missing.path), "\($0)")
        }
        var broken = RGBImage(width: 4, height: 4)
        broken.width = 5
        XCTAssertThrowsError(try classifier.classify(.pixels(broken))) {
            XCTAssertEqual($0 as? InferenceError, .malformedPixels(width: 5, height: 4, bytes: 48))
        }
        let huge = try JPEGEncoder.encode(TinyModels.image(width: 100, height: 100, seed: 1))
        XCTAssertThrowsError(try classifier.decode(.encoded(huge, name: "big"), maxPixels: 9_999)) {
            guard case DataError.tooLarge("big", 100, 100, 9_999) = $0 else { return XCTFail("unexpected error \($0)") }
        }
    }

    /// A run folder without a model, or a file that is no Petal model, is named in the error.
    func testMissingOrForeignModelFiles() throws {
        XCTAssertThrowsError(try ImageClassifier(contentsOf: folder)) {
            XCTAssertEqual($0 as? InferenceError, .noModelInRunFolder(path: folder.path, file: "model.safetensors"))
        }
        let notAModel = folder.appendingPathComponent("notes.safetensors")
        try Data("hello".utf8).writeAtomically(to: notAModel)
        XCTAssertThrowsError(try ImageClassifier(contentsOf: notAModel)) {
            XCTAssertTrue("\($0)".contains(notAModel.path), "\($0)")
        }
    }

    /// Many files: each gets its answer or its own decoding error, in the order given, the
    /// same as classifying them one by one.
    func testFilesReportEachFailureInPlace() throws {
        let classifier = try ImageClassifier(contentsOf: try TinyModels.model(in: folder))
        var files = try TinyModels.files(in: folder.appendingPathComponent("images"), count: 7)
        let corrupt = folder.appendingPathComponent("images/corrupt.jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).writeAtomically(to: corrupt)
        files.insert(corrupt, at: 2)
        files.insert(folder.appendingPathComponent("images/missing.png"), at: 5)
        let results = try classifier.classify(files: files, top: 2, batchSize: 3)
        XCTAssertEqual(results.count, files.count)
        for (url, result) in zip(files, results) {
            switch result {
            case .success(let classification):
                let alone = try classifier.classify(.file(url), top: 2)
                XCTAssertEqual(alone.top.map(\.index), classification.top.map(\.index), url.lastPathComponent)
                for (a, b) in zip(alone.probabilities, classification.probabilities) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            case .failure(let error):
                XCTAssertTrue([2, 5].contains(files.firstIndex(of: url)!), "\(url.lastPathComponent): \(error)")
                XCTAssertTrue("\(error)".contains(url.path), "\(error)")
            }
        }
        XCTAssertEqual(results.filter { (try? $0.get()) == nil }.count, 2, "\(results)")
        XCTAssertEqual(try classifier.classify(files: []).count, 0)
    }
}
