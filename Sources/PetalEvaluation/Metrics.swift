import Foundation

/// Precision, recall, F1 and support of one class.
public struct ClassMetrics: Codable, Sendable, Equatable {
    public var name: String
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// How many samples truly belong to the class.
    public var support: Int
}

/// Precision, recall and F1 averaged over classes.
public struct AveragedMetrics: Codable, Sendable, Equatable {
    public var precision: Double
    public var recall: Double
    public var f1: Double
}

/// The metrics `petal evaluate` reports; saved as `metrics.json`.
///
/// Conventions follow scikit-learn so numbers can be compared directly:
/// - the predicted class is the first arg-max of a probability row (NumPy `argmax`);
/// - precision of a class never predicted, recall of a class with no samples, and F1 when
///   both are 0 are 0 (`zero_division=0`); F1 = 2·TP / (2·TP + FP + FN);
/// - macro averages are plain means over all classes, weighted ones weigh by support
///   (`classification_report`);
/// - balanced accuracy is the mean recall over the classes that have samples
///   (`balanced_accuracy_score`, which leaves classes without samples out);
/// - top-k accuracy ranks ties like `top_k_accuracy_score` (a stable sort, reversed, so of
///   tied classes the higher index ranks first);
/// - log loss averages −ln p(true class) with p clipped to [1e-15, 1 − 1e-15]: `log_loss`
///   with `eps=1e-15`, its default before scikit-learn 1.5. Newer versions clip at float64
///   machine epsilon (2.2e-16) instead, which only matters when the true class got less
///   than 1e-15. Rows are not renormalised, as in scikit-learn 1.9 (checked); older
///   versions renormalised, which is the same for softmax outputs;
/// - the normalised confusion matrix divides each row (true class) by its sum
///   (`confusion_matrix(normalize="true")`); a class with no samples gets a row of zeros;
/// - over no samples at all (an empty test split) there is no metric: accuracy, top-k
///   accuracy, the averages and log loss are NaN (written as "nan" in JSON) and `isEmpty` is true, so
///   nothing reads as a 0 % result.
public struct EvaluationMetrics: Codable, Sendable, Equatable {
    public var classNames: [String]
    public var sampleCount: Int
    public var accuracy: Double
    public var topK: Int
    public var topKAccuracy: Double
    public var perClass: [ClassMetrics]
    public var macroAverage: AveragedMetrics
    public var weightedAverage: AveragedMetrics
    public var logLoss: Double
    /// counts[true][predicted].
    public var confusionMatrix: [[Int]]
    /// Each row of `confusionMatrix` divided by its sum.
    public var normalizedConfusionMatrix: [[Double]]
    /// Mean recall over classes with samples (nil only in metrics files written before it existed).
    public var balancedAccuracy: Double?
    /// The model's test-time augmentation ("flip") when it had one; absent for none.
    public var testTimeAugmentation: String?

    /// True when there were no samples, so no metric.
    public var isEmpty: Bool { sampleCount == 0 }

    /// The clipping bound of log loss, as scikit-learn's `eps=1e-15`.
    public static let logLossEpsilon = 1e-15

    /// Computes all metrics; throws if a label is out of range, a probability row has the
    /// wrong length, or the counts of rows and labels differ.
    public init(probabilities: [[Float]], labels: [Int], classNames: [String], topK: Int = 2) throws {
        let classCount = classNames.count
        guard classCount > 0 else { throw EvaluationError.inconsistentInput("no class names") }
        guard probabilities.count == labels.count else {
            throw EvaluationError.inconsistentInput(
                "\(probabilities.count) probability rows but \(labels.count) labels")
        }
        for (i, row) in probabilities.enumerated() where row.count != classCount {
            throw EvaluationError.inconsistentInput(
                "sample \(i): \(row.count) probabilities for \(classCount) classes")
        }
        for (i, label) in labels.enumerated() where !(0..<classCount).contains(label) {
            throw EvaluationError.inconsistentInput(
                "sample \(i): label \(label) outside 0..<\(classCount)")
        }
        guard topK >= 1 else { throw EvaluationError.inconsistentInput("top-k must be at least 1, not \(topK)") }

        let n = labels.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classCount), count: classCount)
        var topKHits = 0
        var logLossSum = 0.0
        let eps = Self.logLossEpsilon
        for (row, label) in zip(probabilities, labels) {
            confusion[label][argmax(row)] += 1

            // Rank of the true class as scikit-learn's stable-sort-then-reverse gives it.
            let p = row[label]
            var rank = 0
            for j in 0..<classCount where row[j] > p || (row[j] == p && j > label) { rank += 1 }
            if rank < topK { topKHits += 1 }

            logLossSum += -log(min(max(Double(p), eps), 1 - eps))
        }

        var perClass: [ClassMetrics] = []
        for c in 0..<classCount {
            let tp = confusion[c][c]
            let support = confusion[c].reduce(0, +)
            let predicted = (0..<classCount).reduce(0) { $0 + confusion[$1][c] }
            let precision = predicted == 0 ? 0 : Double(tp) / Double(predicted)
            let recall = support == 0 ? 0 : Double(tp) / Double(support)
            let f1Denominator = 2 * tp + (predicted - tp) + (support - tp)
            let f1 = f1Denominator == 0 ? 0 : Double(2 * tp) / Double(f1Denominator)
            perClass.append(ClassMetrics(name: classNames[c], precision: precision, recall: recall,
                                         f1: f1, support: support))
        }

        func average(_ weight: (ClassMetrics) -> Double) -> AveragedMetrics {
            if n == 0 { return AveragedMetrics(precision: .nan, recall: .nan, f1: .nan) }
            let total = perClass.reduce(0) { $0 + weight($1) }
            guard total > 0 else { return AveragedMetrics(precision: 0, recall: 0, f1: 0) }
            func mean(_ value: (ClassMetrics) -> Double) -> Double {
                perClass.reduce(0) { $0 + weight($1) * value($1) } / total
            }
            return AveragedMetrics(precision: mean(\.precision), recall: mean(\.recall), f1: mean(\.f1))
        }

        let correct = (0..<classCount).reduce(0) { $0 + confusion[$1][$1] }
        self.classNames = classNames
        self.sampleCount = n
        self.accuracy = n == 0 ? .nan : Double(correct) / Double(n)
        self.topK = min(topK, classCount)
        self.topKAccuracy = n == 0 ? .nan : Double(topKHits) / Double(n)
        self.perClass = perClass
        self.macroAverage = average { _ in 1 }
        self.weightedAverage = average { Double($0.support) }
        self.logLoss = n == 0 ? .nan : logLossSum / Double(n)
        let recalls = perClass.filter { $0.support > 0 }.map(\.recall)
        self.balancedAccuracy = recalls.isEmpty ? .nan : recalls.reduce(0, +) / Double(recalls.count)
        self.confusionMatrix = confusion
        self.normalizedConfusionMatrix = confusion.map { row in
            let sum = row.reduce(0, +)
            return row.map { sum == 0 ? 0 : Double($0) / Double(sum) }
        }
    }
}

/// Computes the evaluation metrics of softmax outputs against true labels (see
/// `EvaluationMetrics` for the conventions). The input must be consistent — one row of
/// `classNames.count` probabilities per label, labels in range; use
/// `EvaluationMetrics.init(probabilities:labels:classNames:topK:)` to get an error instead
/// for input read from files.
public func evaluate(probabilities: [[Float]], labels: [Int], classNames: [String], topK: Int = 2) -> EvaluationMetrics {
    do {
        return try EvaluationMetrics(probabilities: probabilities, labels: labels, classNames: classNames, topK: topK)
    } catch {
        preconditionFailure("evaluate: \(error)")
    }
}
