import Foundation
import XCTest
import PetalCore
import PetalLayers
@testable import PetalModels
import PetalTestSupport

/// The fine-tuning pass as training runs it (frozen prefix folded, batch-norm statistics
/// frozen, backward stopping at layer 100) gives the gradients finite differences give.
final class FineTuningGradientTests: XCTestCase {
    func testMobileNetV2FineTuningGradients() throws {
        let model = try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: ["a", "b", "c"],
                                           inputSize: 64, head: HeadConfig(dropout: 0), base: .none)
        // Non-trivial batch-norm statistics, as pretrained weights have.
        var generator = SplitMix64(seed: 5)
        for layer in model.network.layers {
            guard let bn = layer as? BatchNormalization else { continue }
            try bn.movingMean.load(try generator.tensor([bn.channels]) { $0 - 0.5 })
            try bn.movingVariance.load(try generator.tensor([bn.channels]) { 0.5 + $0 })
            try bn.gamma.load(try generator.tensor([bn.channels]) { 0.5 + $0 })
        }
        model.unfreezeBase(from: 100)
        let x = try generator.tensor([2, 3, 64, 64]) { $0 * 2 - 1 }
        let labels = [0, 2]
        func loss() throws -> Double { try SoftmaxCrossEntropy.evaluate(logits: try model.network.forward(x, training: true), labels: labels).loss }
        // A few plain gradient steps first, so that stale copies of updated weights would show.
        for _ in 0..<3 {
            let step = try SoftmaxCrossEntropy.evaluate(logits: try model.network.forward(x, training: true), labels: labels)
            try model.network.backward(step.logitsGradient)
            for p in model.network.trainableParameters {
                guard let g = p.gradient else { continue }
                let w = p.value.floats, d = g.floats
                for i in 0..<w.count { w[i] -= 0.05 * d[i] }
                p.markUpdated()
            }
        }
        let result = try SoftmaxCrossEntropy.evaluate(logits: try model.network.forward(x, training: true), labels: labels)
        try model.network.backward(result.logitsGradient)
        for name in ["block_11_depthwise/kernel", "block_11_depthwise_BN/gamma", "block_11_project/kernel",
                     "block_13_depthwise/kernel", "block_13_expand/kernel", "block_16_project_BN/beta",
                     "Conv_1/kernel", "Conv_1_bn/gamma", "predictions/kernel"] {
            let p = model.network.weights.first { $0.name == name }!
            let analytic = try p.gradient!.reordered(to: .rowMajor(p.shape)).toArray()
            let plain = try p.value.reordered(to: .rowMajor(p.shape))
            for i in stride(from: 0, to: plain.count, by: max(1, plain.count / 3)) {
                let original = plain.floats[i]
                let h: Float = 1e-2 * max(1, abs(original))
                plain.floats[i] = original + h; try p.load(plain); let up = try loss()
                plain.floats[i] = original - h; try p.load(plain); let down = try loss()
                plain.floats[i] = original; try p.load(plain)
                let numeric = (up - down) / (2 * Double(h))
                XCTAssertEqual(Double(analytic[i]), numeric, accuracy: 2e-2 * max(1e-2, abs(numeric)) + 2e-4,
                               "\(name)[\(i)]")
            }
        }
    }
}
