import Foundation
import XCTest
import PetalCore
import PetalLayers
import PetalModels
import PetalTraining
import PetalTestSupport
import PetalWeights

/// ResNet-50 and MobileNetV3 train in both phases: a few Adam steps on a tiny generated batch
/// (64 px) with the base frozen, then with the base unfrozen from the family's default
/// fine-tuning point (backward through max pooling, hard-swish, squeeze-and-excitation); the
/// loss falls in each phase and stays finite. ResNet-50 starts from Petal's own random
/// initialisation; MobileNetV3 (whose features vanish under that initialisation: hard-swish
/// halves small values layer after layer) from the torchvision fixtures' random weights, at
/// their reduced widths.
final class NewBackboneTrainingTests: XCTestCase {
    private func batch() throws -> (Tensor, [Int]) {
        var generator = SplitMix64(seed: 11)
        let labels = [0, 1, 0, 1]
        var values = [Float](repeating: 0, count: 4 * 3 * 64 * 64)
        for n in 0..<4 {
            for i in 0..<(3 * 64 * 64) {
                // Class 1 is brighter in the red channel: learnable from pooled features.
                let red = i < 64 * 64 && labels[n] == 1 ? Float(1.5) : 0
                values[n * 3 * 64 * 64 + i] = generator.nextUnitFloat() * 2 - 1 + red
            }
        }
        return (try Tensor(shape: [4, 3, 64, 64], values: values), labels)
    }

    /// The state-dict tensors of a torchvision fixture (not its inputs, outputs and gradients).
    private func binder(_ fixture: String) throws -> WeightBinder {
        let file = try SafetensorsFile.read(Fixtures.url("torchvision/\(fixture).safetensors"))
        let reference: Set<String> = ["input", "logits", "features", "features.r", "input.grad"]
        let weights = file.tensors.filter { !reference.contains($0.key) && !$0.key.hasPrefix("grad.") }
        return WeightBinder(store: WeightStore(tensors: weights, source: fixture), convention: .pytorch)
    }

    private func losses(_ model: TransferClassifier, _ x: Tensor, _ labels: [Int], steps: Int, rate: Double) throws -> [Double] {
        let optimizer = Adam(learningRate: rate)
        var losses: [Double] = []
        for _ in 0..<steps {
            let result = try SoftmaxCrossEntropy.evaluate(logits: try model.network.forward(x, training: true), labels: labels)
            losses.append(result.loss)
            try model.network.backward(result.logitsGradient)
            try optimizer.step(model.network.trainableParameters)
        }
        losses.append(try SoftmaxCrossEntropy.evaluate(logits: try model.network.forward(x, training: true), labels: labels).loss)
        return losses
    }

    func testNewFamiliesTrainInBothPhases() throws {
        let (x, labels) = try batch()
        let bases: [(Architecture, String?)] = [
            (.resNet50, nil), (Architecture(family: .mobileNetV3Large, alpha: 0.25), "mobilenet_v3_large"),
            (Architecture(family: .mobileNetV3Small, alpha: 0.35), "mobilenet_v3_small"),
        ]
        for (architecture, fixture) in bases {
            let model = try TransferClassifier(architecture: architecture, classNames: ["a", "b"], inputSize: 64,
                                               head: HeadConfig(dropout: 0), base: try fixture.map(binder) ?? .none, seed: 3)
            model.freezeBase()
            let first = try losses(model, x, labels, steps: 5, rate: 2e-3)
            let start = try XCTUnwrap(model.layerIndex(named: architecture.defaultFineTuneAt), "\(architecture)")
            model.unfreezeBase(from: start)
            let weight = try XCTUnwrap(model.network.layers[start...].compactMap { $0 as? Conv2D }.first).weight
            let before = try weight.value.toArray()
            let second = try losses(model, x, labels, steps: 4, rate: 1e-4)
            print("\(architecture): phase 1 losses \(first), phase 2 losses \(second)")
            for (phase, values) in [("feature extraction", first), ("fine-tuning", second)] {
                XCTAssertTrue(values.allSatisfy(\.isFinite), "\(architecture) \(phase): \(values)")
                XCTAssertLessThan(values.last!, values.first!, "\(architecture) \(phase): \(values)")
            }
            XCTAssertNotEqual(try weight.value.toArray(), before, "\(architecture): the unfrozen base did not change")
        }
    }
}
