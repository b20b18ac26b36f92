import Foundation
import PetalTestSupport
@testable import PetalTraining
import XCTest

/// Confident learning against cleanlab's own output (scripts/fixtures/make_cleanlab_fixtures.py):
/// thresholds, calibrated confident joint, the issue mask and the ranking, exactly.
final class ConfidentLearningTests: XCTestCase {
    private struct Fixture: Decodable {
        var cleanlab_version: String
        var cases: [Case]
    }

    private struct Case: Decodable {
        var name: String
        var labels: [Int]
        var pred_probs: [[Double]]
        var true_labels: [Int]
        var mask: [Bool]
        var ranked: [Int]
        var confident_joint: [[Int]]
        var thresholds: [Double]
    }

    private func fixture() throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: Fixtures.url("audit/cleanlab.json")))
    }

    func testMatchesCleanlabFindLabelIssues() throws {
        let fixture = try fixture()
        XCTAssertEqual(fixture.cases.count, 4)
        for c in fixture.cases {
            // Petal's probabilities are Float; the fixture's are float32 values.
            let learning = try ConfidentLearning(labels: c.labels, probabilities: c.pred_probs.map { $0.map(Float.init) })
            for (mine, theirs) in zip(learning.thresholds, c.thresholds) {
                XCTAssertEqual(mine, theirs, accuracy: 1e-12, "\(c.name): thresholds")
            }
            XCTAssertEqual(learning.confidentJoint, c.confident_joint, "\(c.name): confident joint")
            XCTAssertEqual(learning.issueMask(), c.mask, "\(c.name): mask")
            XCTAssertEqual(learning.labelIssues(), c.ranked, "\(c.name): ranking")
            XCTAssertGreaterThan(c.ranked.count, 0, c.name)
            // What it finds is mostly real noise (the generator knows the true labels).
            let real = c.ranked.filter { c.labels[$0] != c.true_labels[$0] }.count
            print("\(c.name) (cleanlab \(fixture.cleanlab_version)): \(c.ranked.count) flagged, \(real) truly flipped")
        }
    }

    func testRoundPreservingSumAsNumpy() {
        // cleanlab.internal.util.round_preserving_sum gives these (ties: the last index first).
        XCTAssertEqual(ConfidentLearning.roundPreservingSum([0.5, 1.5, 2.5, 0.5]), [0, 2, 2, 1])
        XCTAssertEqual(ConfidentLearning.roundPreservingSum([1.4, 1.4, 1.2]), [1, 2, 1])
        XCTAssertEqual(ConfidentLearning.roundPreservingSum([3.0, 0.0]), [3, 0])
    }

    func testRefusesMismatchedInput() {
        XCTAssertThrowsError(try ConfidentLearning(labels: [0, 1], probabilities: [[0.5, 0.5]] as [[Double]])) {
            XCTAssertTrue("\($0)".contains("2 labels for 1 rows"), "\($0)")
        }
        XCTAssertThrowsError(try ConfidentLearning(labels: [2], probabilities: [[0.5, 0.5]] as [[Double]])) {
            XCTAssertTrue("\($0)".contains("label 2 of image 0"), "\($0)")
        }
    }
}
