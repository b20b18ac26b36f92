import Foundation
import PetalCore
import PetalData
import PetalTestSupport
@testable import PetalTraining
import XCTest

/// fastai's `lr_find` on tiny generated data: exactly geometric rates, the recorded losses
/// smoothed as fastai does, fastai's suggestions, and nothing written or changed on disk.
final class LearningRateFinderTests: XCTestCase {
    private func config(_ data: URL) -> TransferLearningConfig {
        var config = TinyDataset.tinyRunConfig(data)
        config.classWeight = .balanced
        config.labelSmoothing = 0.1
        return config
    }

    func testSweepRecordsGeometricRatesAndSmoothedLosses() throws {
        let data = try TinyDataset.make(perClass: 8)
        defer { try? FileManager.default.removeItem(at: data) }
        let before = try FolderSnapshot(data)
        let sweep = LearningRateSweep(startLR: 1e-6, endLR: 1, steps: 14)
        let finding = try LearningRateFinder.run(config: config(data), sweep: sweep, progress: ProgressReporter(style: .quiet))
        XCTAssertEqual(try FolderSnapshot(data), before, "the sweep writes nothing next to the data")

        let rates = finding.learningRates
        XCTAssertGreaterThanOrEqual(rates.count, 3, "\(finding.stopReason)")
        XCTAssertLessThanOrEqual(rates.count, 14)
        XCTAssertEqual(rates[0], 1e-6)
        let ratio = pow(1e6, 1.0 / 13)
        for i in 1..<rates.count { XCTAssertEqual(rates[i] / rates[i - 1], ratio, accuracy: 1e-12 * ratio, "rate \(i)") }
        XCTAssertTrue(["completed", "diverged", "non-finite loss"].contains(finding.stopReason), finding.stopReason)
        if finding.stopReason == "completed" {
            XCTAssertEqual(rates.count, 14)
            XCTAssertEqual(rates.last!, 1, accuracy: 1e-12)
        }

        // fastai's AvgSmoothLoss: val = lerp(loss, val, 0.98), value = val / (1 - 0.98^t).
        XCTAssertEqual(finding.losses.count, rates.count)
        var average = 0.0
        for (t, loss) in finding.losses.enumerated() {
            XCTAssertTrue(loss.isFinite && loss > 0, "loss \(t) is \(loss)")
            average = loss + 0.98 * (average - loss)
            XCTAssertEqual(finding.smoothedLosses[t], average / (1 - pow(0.98, Double(t + 1))), accuracy: 1e-9 * loss)
        }
        if finding.stopReason == "diverged" {
            XCTAssertGreaterThan(finding.smoothedLosses.last!, 4 * finding.smoothedLosses.dropLast().min()!)
        }

        // The suggestion is a swept rate, the steepest descent of the smoothed loss (fastai's steep).
        XCTAssertTrue(rates.contains(finding.suggestedLearningRate))
        XCTAssertTrue((sweep.startLR...sweep.endLR).contains(finding.suggestedLearningRate))
        let (steep, minimum) = LearningRateFinder.suggestions(rates: rates, smoothed: finding.smoothedLosses, steps: 14)
        XCTAssertEqual(finding.suggestedLearningRate, steep)
        XCTAssertEqual(finding.minimumLearningRateOver10, minimum / 10)
        let split = try DatasetSplit.stratified(try ImageFolder(data), train: 0.7, validation: 0.15, test: 0.15, seed: 42)
        XCTAssertEqual(finding.trainingImages, split.train.count, "the sweep runs on the training split")
    }

    /// fastai's `steep` and `minimum` on a known curve, leaving out the first tenth and last five.
    func testSuggestionsOnAKnownCurve() {
        let rates = (0..<20).map { 1e-4 * pow(10, Double($0) / 19 * 4) }
        // Flat, then falling fastest between points 8 and 9, lowest at 12, then rising.
        let losses: [Double] = [2, 2, 2, 2, 1.99, 1.98, 1.9, 1.8, 1.7, 1.2, 1.0, 0.9, 0.85, 0.9, 1.2, 2, 3, 5, 8, 9]
        let (steep, minimum) = LearningRateFinder.suggestions(rates: rates, smoothed: losses, steps: 20)
        XCTAssertEqual(steep, rates[8])
        XCTAssertEqual(minimum, rates[12])
        // Too few points to leave any out: all are used.
        let few = LearningRateFinder.suggestions(rates: Array(rates[0..<3]), smoothed: [3, 1, 2], steps: 20)
        XCTAssertEqual(few.steep, rates[0])
        XCTAssertEqual(few.minimum, rates[1])
    }

    func testBadSweepOptionsNameTheOption() {
        func message(_ sweep: LearningRateSweep) -> String {
            do { try sweep.validate(); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(LearningRateSweep(startLR: 0)), "--start-lr is 0; it must be above 0 and at most 10")
        XCTAssertEqual(message(LearningRateSweep(endLR: 100)), "--end-lr is 100; it must be above 0 and at most 10")
        XCTAssertEqual(message(LearningRateSweep(startLR: .nan)), "--start-lr is nan, not a finite number; it must be above 0 and at most 10")
        XCTAssertEqual(message(LearningRateSweep(startLR: 0.1, endLR: 0.01)), "--end-lr: 0.01 is not above --start-lr 0.1")
        XCTAssertEqual(message(LearningRateSweep(steps: 1)), "--steps is 1; it must be between 2 and 100000")
        XCTAssertEqual(message(LearningRateSweep()), "accepted")
    }
}
