import Foundation
import PetalCore
@testable import PetalEvaluation
import XCTest

/// No samples, no metric: an empty test split reports that it is empty, never 0 %.
final class EmptySetMetricsTests: XCTestCase {
    func testMetricsOverNoSamplesAreNaNAndSaySo() throws {
        let m = try EvaluationMetrics(probabilities: [], labels: [], classNames: ["a", "b"])
        XCTAssertTrue(m.isEmpty)
        XCTAssertEqual(m.sampleCount, 0)
        for value in [m.accuracy, m.topKAccuracy, m.logLoss, m.macroAverage.f1, m.weightedAverage.precision] {
            XCTAssertTrue(value.isNaN, "\(value)")
        }
        XCTAssertEqual(m.confusionMatrix, [[0, 0], [0, 0]])
        // Saved and read back as JSON ("nan", not a failed write).
        let json = try PetalJSON.encode(m)
        XCTAssertTrue(String(decoding: json, as: UTF8.self).contains("\"accuracy\" : \"nan\""))
        XCTAssertTrue(try PetalJSON.decode(EvaluationMetrics.self, from: json).accuracy.isNaN)

        XCTAssertEqual(MetricsTable.render(m), "Evaluated 0 images in 2 classes: no images, so no metrics\n")

        let one = try EvaluationMetrics(probabilities: [[0.9, 0.1]], labels: [0], classNames: ["a", "b"])
        XCTAssertFalse(one.isEmpty)
        XCTAssertEqual(one.accuracy, 1)
    }
}
