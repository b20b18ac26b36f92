import Foundation
import PetalCore
import PetalLayers
import PetalTestSupport
import XCTest

/// Weighted, label-smoothed cross-entropy against PyTorch 1.13's
/// `CrossEntropyLoss(weight=w, label_smoothing=ε)` (Tests/Fixtures/losses.json, made by
/// scripts/fixtures/make_loss_fixtures.py): loss and logits gradient within 1e-5.
final class LossWeightingTests: XCTestCase {
    private struct Case: Decodable {
        var name: String
        var batch: Int
        var classes: Int
        var weights: [Float]?
        var label_smoothing: Float
        var logits: [Float]
        var labels: [Int]
        var loss: Double
        var logits_gradient: [Float]
    }

    private struct Document: Decodable { var cases: [Case] }

    func testMatchesPyTorchWithClassWeightsAndLabelSmoothing() throws {
        let document = try JSONDecoder().decode(Document.self, from: Data(contentsOf: Fixtures.url("losses.json")))
        XCTAssertEqual(document.cases.count, 7)
        XCTAssertTrue(document.cases.contains { $0.weights != nil && $0.label_smoothing > 0 })
        for c in document.cases {
            let logits = try Tensor(shape: [c.batch, c.classes], values: c.logits)
            let weighting = LossWeighting(classWeights: c.weights, labelSmoothing: c.label_smoothing)
            let result = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: c.labels, weighting: weighting)
            print("LossWeighting \(c.name): loss \(result.loss) vs PyTorch \(c.loss)")
            XCTAssertEqual(result.loss, c.loss, accuracy: 1e-5, c.name)
            let gradient = try result.logitsGradient.toArray()
            XCTAssertEqual(gradient.count, c.logits_gradient.count, c.name)
            for (i, (mine, theirs)) in zip(gradient, c.logits_gradient).enumerated() {
                XCTAssertEqual(mine, theirs, accuracy: 1e-5, "\(c.name) gradient[\(i)]")
            }
        }
    }

    /// Without weights or smoothing the loss is the plain one, bit for bit; weights all 1 and
    /// ε = 0 give the same numbers through the weighted path.
    func testNoWeightingIsPlainCrossEntropy() throws {
        let logits = try Tensor(shape: [3, 4], values: (0..<12).map { Float($0 % 5) * 0.7 - 1 })
        let labels = [2, 0, 3]
        let plain = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels)
        let none = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels, weighting: .none)
        XCTAssertEqual(none.loss, plain.loss)
        XCTAssertEqual(try none.logitsGradient.toArray(), try plain.logitsGradient.toArray())
        let ones = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels,
                                                    weighting: LossWeighting(classWeights: [1, 1, 1, 1]))
        XCTAssertEqual(ones.loss, plain.loss, accuracy: 1e-9)
        for (a, b) in zip(try ones.logitsGradient.toArray(), try plain.logitsGradient.toArray()) { XCTAssertEqual(a, b, accuracy: 1e-7) }
        XCTAssertThrowsError(try SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels,
                                                              weighting: LossWeighting(classWeights: [1, 2])))
    }
}
