import XCTest
import Foundation
@testable import PetalEvaluation
import PetalTestSupport
import PetalTraining

/// Every metric on a hand-made case whose answers are worked out below by hand. The
/// conventions are scikit-learn's (checked against scikit-learn 1.9's
/// classification_report, top_k_accuracy_score, confusion_matrix and log_loss on this
/// same case).
final class MetricsTests: XCTestCase {
    // Three classes; "bird" is never predicted.
    //   sample  probabilities         true  argmax  top-2 hit?
    //   0       .7  .2  .1            cat   cat     yes (rank 0)
    //   1       .6  .3  .1            cat   cat     yes
    //   2       .2  .5  .3            cat   dog     no  (.5 and .3 above .2)
    //   3       .1  .8  .1            dog   dog     yes
    //   4       .4  .35 .25           dog   cat     yes (rank 1)
    //   5       .3  .4  .3            bird  dog     yes (only .4 above; the tie with cat ranks bird first)
    //   6       .5  .5  0             bird  cat     no  (first arg-max wins the tie for the prediction)
    let classNames = ["cat", "dog", "bird"]
    let probabilities: [[Float]] = [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.8, 0.1],
                                    [0.4, 0.35, 0.25], [0.3, 0.4, 0.3], [0.5, 0.5, 0.0]]
    let labels = [0, 0, 0, 1, 1, 2, 2]

    func testEveryMetricOnAHandMadeCase() throws {
        let m = evaluate(probabilities: probabilities, labels: labels, classNames: classNames, topK: 2)
        let tolerance = 1e-9

        XCTAssertEqual(m.sampleCount, 7)
        XCTAssertEqual(m.accuracy, 3.0 / 7, accuracy: tolerance)          // samples 0, 1, 3
        XCTAssertEqual(m.topK, 2)
        XCTAssertEqual(m.topKAccuracy, 5.0 / 7, accuracy: tolerance)      // all but 2 and 6

        // Confusion matrix, rows true, columns predicted.
        XCTAssertEqual(m.confusionMatrix, [[2, 1, 0], [1, 1, 0], [1, 1, 0]])
        let expectedRates: [[Double]] = [[2.0 / 3, 1.0 / 3, 0], [0.5, 0.5, 0], [0.5, 0.5, 0]]
        for (row, expected) in zip(m.normalizedConfusionMatrix, expectedRates) {
            for (value, e) in zip(row, expected) { XCTAssertEqual(value, e, accuracy: tolerance) }
        }

        // cat: TP 2 of 4 predicted, 3 true.  dog: TP 1 of 3 predicted, 2 true.
        // bird: never predicted → precision 0 (zero_division=0), recall 0/2, F1 0.
        let cat = m.perClass[0], dog = m.perClass[1], bird = m.perClass[2]
        XCTAssertEqual(cat.name, "cat")
        XCTAssertEqual(cat.precision, 0.5, accuracy: tolerance)
        XCTAssertEqual(cat.recall, 2.0 / 3, accuracy: tolerance)
        XCTAssertEqual(cat.f1, 2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3), accuracy: tolerance)  // 4/7
        XCTAssertEqual(cat.support, 3)
        XCTAssertEqual(dog.precision, 1.0 / 3, accuracy: tolerance)
        XCTAssertEqual(dog.recall, 0.5, accuracy: tolerance)
        XCTAssertEqual(dog.f1, 0.4, accuracy: tolerance)                   // 2·(1/3)(1/2)/(5/6)
        XCTAssertEqual(dog.support, 2)
        XCTAssertEqual(bird.precision, 0)
        XCTAssertEqual(bird.recall, 0)
        XCTAssertEqual(bird.f1, 0)
        XCTAssertEqual(bird.support, 2)

        // Macro: plain means over the three classes, bird's zeros included.
        XCTAssertEqual(m.macroAverage.precision, (0.5 + 1.0 / 3 + 0) / 3, accuracy: tolerance)   // 5/18
        XCTAssertEqual(m.macroAverage.recall, (2.0 / 3 + 0.5 + 0) / 3, accuracy: tolerance)      // 7/18
        XCTAssertEqual(m.macroAverage.f1, (4.0 / 7 + 0.4 + 0) / 3, accuracy: tolerance)          // 34/105
        // Weighted by support 3, 2, 2; weighted recall always equals accuracy.
        XCTAssertEqual(m.weightedAverage.precision, (3 * 0.5 + 2 * (1.0 / 3)) / 7, accuracy: tolerance)  // 13/42
        XCTAssertEqual(m.weightedAverage.recall, 3.0 / 7, accuracy: tolerance)
        XCTAssertEqual(m.weightedAverage.f1, (3 * (4.0 / 7) + 2 * 0.4) / 7, accuracy: tolerance)   // 88/245

        // Log loss: mean of −ln p(true); sample 6 gave bird 0, clipped to 1e-15.
        let trueProbabilities = [0.7, 0.6, 0.2, 0.8, 0.35, 0.3, 1e-15]
        let expectedLogLoss = trueProbabilities.map { -log($0) }.reduce(0, +) / 7
        // Float inputs carry ~1e-8 relative error, hence the looser tolerance.
        XCTAssertEqual(m.logLoss, expectedLogLoss, accuracy: 1e-6)
        XCTAssertEqual(-log(1e-15), 34.538776, accuracy: 1e-6)
    }

    func testLogLossWithoutExtremesMatchesTheTextbookFormulaAndIgnoresRowSums() throws {
        // Rows that do not sum to 1 are not renormalised (scikit-learn 1.9 gives 0.366985 here).
        let m = try EvaluationMetrics(probabilities: [[0.8, 0.4, 0.0], [0.2, 0.2, 0.6]], labels: [0, 2],
                                      classNames: ["a", "b", "c"])
        XCTAssertEqual(m.logLoss, (-log(0.8) - log(0.6)) / 2, accuracy: 1e-6)
        XCTAssertEqual(m.logLoss, 0.366985, accuracy: 1e-5)
        // A certain, right answer costs −ln(1 − 1e-15) ≈ 1e-15, not exactly 0.
        let certain = try EvaluationMetrics(probabilities: [[1, 0]], labels: [0], classNames: ["a", "b"])
        XCTAssertEqual(certain.logLoss, 1e-15, accuracy: 1e-16)
    }

    func testTopKTiesRankTheHigherIndexFirstLikeScikitLearn() throws {
        // [.4 .4 .2]: with k = 1, class 1 wins the tie and class 0 misses, even though the
        // arg-max prediction is class 0. scikit-learn's top_k_accuracy_score gives 0.5.
        let m = try EvaluationMetrics(probabilities: [[0.4, 0.4, 0.2], [0.4, 0.4, 0.2]], labels: [0, 1],
                                      classNames: ["a", "b", "c"], topK: 1)
        XCTAssertEqual(m.topKAccuracy, 0.5)
        XCTAssertEqual(m.accuracy, 0.5)
        XCTAssertEqual(m.confusionMatrix, [[1, 0, 0], [1, 0, 0], [0, 0, 0]])
        // k larger than the class count means every sample is a hit and k is reported clamped.
        let all = try EvaluationMetrics(probabilities: [[0.1, 0.9]], labels: [0], classNames: ["a", "b"], topK: 5)
        XCTAssertEqual(all.topK, 2)
        XCTAssertEqual(all.topKAccuracy, 1)
    }

    func testAClassWithNoSamplesGetsZerosAndAZeroRow() throws {
        let m = try EvaluationMetrics(probabilities: [[0.9, 0.1, 0], [0.2, 0.8, 0]], labels: [0, 1],
                                      classNames: ["a", "b", "empty"])
        XCTAssertEqual(m.perClass[2], ClassMetrics(name: "empty", precision: 0, recall: 0, f1: 0, support: 0))
        XCTAssertEqual(m.normalizedConfusionMatrix[2], [0, 0, 0])
        XCTAssertEqual(m.macroAverage.f1, 2.0 / 3, accuracy: 1e-12)   // (1 + 1 + 0) / 3
        XCTAssertEqual(m.weightedAverage.f1, 1, accuracy: 1e-12)      // the empty class weighs 0
    }

    func testInconsistentInputIsAnErrorNamingTheProblem() {
        XCTAssertThrowsError(try EvaluationMetrics(probabilities: [[0.5, 0.5]], labels: [2], classNames: ["a", "b"])) {
            XCTAssertEqual("\($0)", "sample 0: label 2 outside 0..<2")
        }
        XCTAssertThrowsError(try EvaluationMetrics(probabilities: [[0.5, 0.5], [1]], labels: [0, 1], classNames: ["a", "b"])) {
            XCTAssertEqual("\($0)", "sample 1: 1 probabilities for 2 classes")
        }
        XCTAssertThrowsError(try EvaluationMetrics(probabilities: [[0.5, 0.5]], labels: [], classNames: ["a", "b"]))
        XCTAssertThrowsError(try EvaluationMetrics(probabilities: [], labels: [], classNames: []))
        XCTAssertThrowsError(try EvaluationMetrics(probabilities: [[1, 0]], labels: [0], classNames: ["a", "b"], topK: 0))
    }

    func testTerminalTableShowsTheNumbers() {
        let m = evaluate(probabilities: probabilities, labels: labels, classNames: classNames)
        let text = MetricsTable.render(m)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertTrue(text.contains("accuracy        42.86%"), text)
        XCTAssertTrue(text.contains("top-2 accuracy  71.43%"), text)
        let catRow = try! XCTUnwrap(lines.first { $0.hasPrefix("cat ") })
        XCTAssertEqual(catRow.split(separator: " ").map(String.init), ["cat", "0.500", "0.667", "0.571", "3"])
        let birdRow = try! XCTUnwrap(lines.first { $0.hasPrefix("bird ") && $0.contains("0.000") })
        XCTAssertEqual(birdRow.split(separator: " ").map(String.init), ["bird", "0.000", "0.000", "0.000", "2"])
        let macro = try! XCTUnwrap(lines.first { $0.hasPrefix("macro avg") })
        XCTAssertEqual(macro.split(separator: " ").suffix(4).map(String.init), ["0.278", "0.389", "0.324", "7"])
        // Confusion rows: counts then row percentages.
        let catConfusion = try! XCTUnwrap(lines.last { $0.hasPrefix("cat ") })
        XCTAssertEqual(catConfusion.split(separator: " ").map(String.init), ["cat", "2", "1", "0", "|", "66.7%", "33.3%", "0.0%"])
    }

    func testMetricsRoundTripThroughJSON() throws {
        let folder = Fixtures.temporaryDirectory("petal-eval-json")
        defer { try? FileManager.default.removeItem(at: folder) }
        let m = evaluate(probabilities: probabilities, labels: labels, classNames: classNames)
        try RunFolder(folder).write(m, to: .metrics)
        XCTAssertEqual(try RunFolder(folder).metrics(), m)
        // Only the file itself: the temporary was renamed, not left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["metrics.json"])
    }
}
