import Foundation
import XCTest
import PetalCore
import PetalWeights
@testable import PetalModels
import PetalTestSupport

/// Weights for another architecture or width are refused with the tensor and both shapes;
/// a Petal model file round-trips through safetensors.
final class WeightMismatchTests: XCTestCase {
    func testFileForAnotherAlphaNamesTheTensorAndBothShapes() throws {
        guard let url = PetalPaths.installedWeights(named: "dog_breed_mobilenetv2.h5") else {
            throw XCTSkip("dog_breed_mobilenetv2.h5 is not installed (run scripts/setup.sh)")
        }
        let binder = try PretrainedWeights.binder(for: .mobileNetV2(alpha: 0.5), url: url)
        XCTAssertThrowsError(try TransferClassifier(architecture: .mobileNetV2(alpha: 0.5), classNames: ["a", "b"],
                                                    inputSize: 96, base: binder)) { error in
            XCTAssertEqual("\(error)", "\(url.path): tensor `Conv1/kernel` has shape [3, 3, 3, 32] but the model expects [3, 3, 3, 16]")
        }
    }

    func testExtraTensorsAreRefused() throws {
        // A Lite0-shaped file with one tensor no Lite0 layer has.
        let network = try EfficientNetLite.build(variant: 0, height: 32, width: 32, binder: .none)
        var tensors: [(String, Tensor)] = []
        for p in network.weights {
            let parts = p.name.split(separator: "/")
            let torch = ["kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
                         "moving_mean": "running_mean", "moving_variance": "running_var"][String(parts[1])]!
            var value = try p.value.rowMajor()
            if p.shape.count == 5 { value = try value.reshaped([p.shape[0], 1, p.shape[3], p.shape[4]]) }
            tensors.append(("\(parts[0]).\(torch)", value))
        }
        tensors.append(("_blocks.99._expand_conv.weight", try Tensor(zeros: [4, 4, 1, 1])))
        let url = Fixtures.temporaryDirectory("petal-extra").appendingPathComponent("extra.safetensors")
        try SafetensorsFile.write(tensors, to: url)
        let binder = try PretrainedWeights.binder(for: .efficientNetLite(0), url: url)
        XCTAssertThrowsError(try TransferClassifier(architecture: .efficientNetLite(0), classNames: ["a", "b"],
                                                    inputSize: 32, base: binder)) { error in
            XCTAssertTrue("\(error)".contains("_blocks.99._expand_conv.weight"), "\(error)")
        }
    }

    func testPetalModelFileRoundTrip() throws {
        let model = try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: ["x", "y", "z"],
                                           inputSize: 64, head: HeadConfig(hiddenUnits: [8], dropout: 0.1), base: .none)
        let url = Fixtures.temporaryDirectory("petal-model").appendingPathComponent("model.safetensors")
        try model.save(to: url)
        let loaded = try TransferClassifier.load(from: url)
        XCTAssertEqual(loaded.classNames, ["x", "y", "z"])
        XCTAssertEqual(loaded.head, model.head)
        var generator = SplitMix64(seed: 3)
        let x = try generator.tensor([2, 3, 64, 64])
        XCTAssertEqual(try model.predict(x), try loaded.predict(x))
        // The summary counts what Keras counts: MobileNetV2 0.35 base plus an 8-unit hidden layer and 3 outputs.
        model.freezeBase()
        XCTAssertEqual(model.trainableParameterCount, (1280 * 8 + 8) + (8 * 3 + 3))
    }

    func testNotebookHeadHas6405TrainableParameters() throws {
        let model = try TransferClassifier(architecture: .mobileNetV2(), classNames: ["daisy", "dandelion", "rose",
                                           "sunflower", "tulip"], inputSize: 224, base: .none)
        model.freezeBase()
        XCTAssertEqual(model.trainableParameterCount, 6405)
        XCTAssertTrue(model.summary.contains("Trainable params: 6405"))
        XCTAssertTrue(model.summary.contains("predictions (Dense)"))
    }
}
