import Foundation
import PetalCore
import PetalLayers
import PetalModels
import PetalTestSupport
import PetalWeights
import XCTest

/// Post-training int8 quantization of small models with random weights: the int8 model's
/// probabilities stay near the float model's, the file is about 4x smaller, the same images
/// give the same bytes, and the file loads back to the same model.
final class QuantizedClassifierTests: XCTestCase {
    /// Normalised NHWC batches of structured test pictures (as inference makes them).
    private func batches(_ model: TransferClassifier, count: Int, seed: UInt64, batch: Int = 16) throws -> [Tensor] {
        let size = model.inputSize, per = size * size * 3
        return try stride(from: 0, to: count, by: batch).map { start in
            let n = min(batch, count - start)
            let tensor = try Tensor(layout: .nhwc([n, 3, size, size]))
            for k in 0..<n {
                let image = TinyModels.image(width: size, height: size, seed: seed &+ UInt64(start + k))
                image.pixels.withUnsafeBufferPointer {
                    model.normalization.apply($0.baseAddress!, into: tensor.floats.baseAddress! + k * per, count: per)
                }
            }
            return tensor
        }
    }

    /// A model whose head is scaled up so that its classes are told apart clearly
    /// (random heads give near-uniform probabilities, where top-1 is a coin toss).
    private func model(_ architecture: Architecture, hidden: [Int] = [], inputSize: Int = 64) throws -> TransferClassifier {
        let model = try TransferClassifier(architecture: architecture, classNames: ["a", "b", "c", "d"], inputSize: inputSize,
                                           head: HeadConfig(hiddenUnits: hidden, dropout: 0.2), base: .none, seed: 3)
        let predictions = model.network.layer(named: "predictions") as! Dense
        let w = try predictions.weight.value.toArray().map { $0 * 8 }
        try predictions.weight.load(Tensor(shape: predictions.weight.shape, values: w))
        return model
    }

    private func compare(_ model: TransferClassifier, file: StaticString = #filePath, line: UInt = #line) throws {
        let int8 = try QuantizedClassifier.quantize(model, calibration: try batches(model, count: 64, seed: 100))
        var agree = 0, total = 0
        var worst: Float = 0
        for batch in try batches(model, count: 64, seed: 5000) {
            for (f, q) in zip(try model.predict(batch), try int8.predict(batch)) {
                worst = max(worst, zip(f, q).map { abs($0 - $1) }.max()!)
                agree += f.firstIndex(of: f.max()!) == q.firstIndex(of: q.max()!) ? 1 : 0
                total += 1
            }
        }
        print("\(model.architecture): top-1 agreement \(agree)/\(total), largest probability difference \(worst)")
        XCTAssertGreaterThanOrEqual(Double(agree) / Double(total), 0.9, file: file, line: line)
        XCTAssertLessThan(worst, 0.1, file: file, line: line)
    }

    func testMobileNetV2Int8AgreesWithFloat() throws {
        try compare(try model(.mobileNetV2(alpha: 0.35)))
    }

    func testEfficientNetLiteWithHiddenLayersInt8AgreesWithFloat() throws {
        try compare(try model(.efficientNetLite(0), hidden: [32]))
    }

    func testFileIsAboutFourTimesSmallerDeterministicAndLoadsBack() throws {
        let folder = Fixtures.temporaryDirectory("quantized-model")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try model(.mobileNetV2(alpha: 1.0), inputSize: 32)
        let calibration = try batches(model, count: 24, seed: 9)
        let floatURL = folder.appendingPathComponent("model.safetensors")
        let int8URL = folder.appendingPathComponent("model-int8.safetensors")
        try model.save(to: floatURL)
        let int8 = try QuantizedClassifier.quantize(model, calibration: calibration)
        try int8.save(to: int8URL)

        // Same images, same bytes.
        let again = try QuantizedClassifier.quantize(model, calibration: calibration).encoded(path: "again")
        XCTAssertEqual(try Data(contentsOf: int8URL), again)

        let floatBytes = try FileManager.default.attributesOfItem(atPath: floatURL.path)[.size] as! Int
        let int8Bytes = try FileManager.default.attributesOfItem(atPath: int8URL.path)[.size] as! Int
        let ratio = Double(floatBytes) / Double(int8Bytes)
        print("float \(floatBytes) bytes, int8 \(int8Bytes) bytes: \(ratio)x smaller")
        XCTAssertGreaterThan(ratio, 3.5)

        let file = try SafetensorsFile.read(int8URL)
        XCTAssertTrue(QuantizedClassifier.isQuantized(file))
        XCTAssertFalse(QuantizedClassifier.isQuantized(try SafetensorsFile.read(floatURL)))
        XCTAssertNil(try QuantizedClassifier.loadIfQuantized(from: floatURL))
        let loaded = try QuantizedClassifier.load(from: int8URL)
        XCTAssertEqual(loaded.record, int8.record)
        XCTAssertEqual(loaded.classNames, model.classNames)
        let batch = try batches(model, count: 8, seed: 77)[0]
        XCTAssertEqual(try loaded.predict(batch), try int8.predict(batch))
    }

    func testInt8ModelCannotBeTrained() throws {
        let model = try model(.mobileNetV2(alpha: 0.35), inputSize: 32)
        let int8 = try QuantizedClassifier.quantize(model, calibration: try batches(model, count: 4, seed: 1))
        let batch = try batches(model, count: 2, seed: 2)[0]
        XCTAssertThrowsError(try int8.network.forward(batch, training: true)) { error in
            XCTAssertTrue("\(error)".contains("cannot be trained"), "\(error)")
        }
    }
}
