import Foundation

/// Confident learning (Northcutt et al., 2021) as cleanlab 2.x computes it by default:
/// `cleanlab.filter.find_label_issues(labels, pred_probs, filter_by="prune_by_noise_rate",
/// return_indices_ranked_by="self_confidence")`, step for step, in Double.
///
/// 1. Per-class thresholds: the mean predicted probability of class k over the images
///    labelled k (its "self-confidence"), at least 2e-6; 2 for a class nobody is labelled.
/// 2. The confident joint C[given][guessed]: an image counts where at least one probability
///    reaches its class's threshold (minus 1e-6); the guess is the confident class, or the
///    arg-max when several are confident. Its diagonal is at least 1; it is then calibrated
///    to the label counts and rounded keeping row totals.
/// 3. Prune by noise rate: for given class k and each other class j, the C[k][j] images
///    labelled k with the largest margin p[j] − p[k] are flagged.
/// 4. Images whose arg-max (the given class's probability raised by 1e-6) is their label are
///    never flagged.
/// 5. Flagged images are ranked by self-confidence p[label], lowest first.
///
/// Ties (equal margins or self-confidences) are broken by image index, where numpy's
/// unstable quicksort leaves the order to its implementation; the fixtures compare exactly.
public struct ConfidentLearning: Sendable {
    /// Images by their given label, with (N, K) predicted probabilities (rows need not sum to 1).
    public let labels: [Int]
    public let probabilities: [[Double]]
    public let classCount: Int

    public init(labels: [Int], probabilities: [[Double]]) throws(AuditError) {
        guard labels.count == probabilities.count else {
            throw .invalidInput("\(labels.count) labels for \(probabilities.count) rows of probabilities")
        }
        let k = probabilities.first?.count ?? 0
        guard k >= 2 else { throw .invalidInput("probabilities need at least 2 classes, found \(k)") }
        if let row = probabilities.firstIndex(where: { $0.count != k }) {
            throw .invalidInput("row \(row) has \(probabilities[row].count) probabilities, not \(k)")
        }
        if let bad = labels.firstIndex(where: { !(0..<k).contains($0) }) {
            throw .invalidInput("label \(labels[bad]) of image \(bad) is not a class index 0..<\(k)")
        }
        if let row = probabilities.firstIndex(where: { !$0.allSatisfy(\.isFinite) }) {
            throw .invalidInput("row \(row) has a non-finite probability")
        }
        self.labels = labels
        self.probabilities = probabilities
        self.classCount = k
    }

    public init(labels: [Int], probabilities: [[Float]]) throws(AuditError) {
        try self.init(labels: labels, probabilities: probabilities.map { $0.map(Double.init) })
    }

    /// Images labelled with each class.
    public var labelCounts: [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[label] += 1 }
        return counts
    }

    /// Step 1: the per-class thresholds (cleanlab's `get_confident_thresholds`).
    public var thresholds: [Double] {
        var sums = [Double](repeating: 0, count: classCount)
        for (label, row) in zip(labels, probabilities) { sums[label] += row[label] }
        return zip(sums, labelCounts).map { sum, count in count == 0 ? 2 : max(sum / Double(count), 2e-6) }
    }

    /// Step 2: the calibrated confident joint, C[given][guessed] (`compute_confident_joint`).
    public var confidentJoint: [[Int]] {
        let thresholds = thresholds
        var joint = [[Int]](repeating: [Int](repeating: 0, count: classCount), count: classCount)
        for (label, row) in zip(labels, probabilities) {
            let confident = row.indices.filter { row[$0] >= thresholds[$0] - 1e-6 }
            guard let first = confident.first else { continue }
            let guess = confident.count > 1 ? Self.argmax(row) : first
            joint[label][guess] += 1
        }
        for k in 0..<classCount { joint[k][k] = max(joint[k][k], 1) }
        // Calibrated: each row scaled to its label count, then the whole to the image count.
        let counts = labelCounts
        var calibrated = joint.enumerated().map { k, row -> [Double] in
            let total = max(Double(row.reduce(0, +)), 1e-100)
            return row.map { Double($0) / total * Double(counts[k]) }
        }
        let sum = max(calibrated.joined().reduce(0, +), 1e-100)
        calibrated = calibrated.map { $0.map { $0 / sum * Double(labels.count) } }
        return calibrated.map(Self.roundPreservingSum)
    }

    /// Steps 3 to 5: the flagged images, ranked by self-confidence (lowest first).
    public func labelIssues() -> [Int] {
        let mask = issueMask()
        let flagged = labels.indices.filter { mask[$0] }
        return flagged.sorted { a, b in
            let (sa, sb) = (probabilities[a][labels[a]], probabilities[b][labels[b]])
            return sa != sb ? sa < sb : a < b
        }
    }

    /// Steps 3 and 4: whether each image is flagged.
    public func issueMask() -> [Bool] {
        // cleanlab's prune count matrix is the transposed joint, C[guessed][given].
        let pruneCounts = Self.keepAtLeastOnePerClass(transpose(confidentJoint))
        var mask = [Bool](repeating: false, count: labels.count)
        for k in 0..<classCount {
            let members = labels.indices.filter { labels[$0] == k }
            guard members.count > 1 else { continue }
            for j in 0..<classCount where j != k && pruneCounts[j][k] > 0 {
                let byMargin = members.sorted { a, b in
                    let (ma, mb) = (probabilities[a][j] - probabilities[a][k], probabilities[b][j] - probabilities[b][k])
                    return ma != mb ? ma > mb : a < b
                }
                for i in byMargin.prefix(pruneCounts[j][k]) { mask[i] = true }
            }
        }
        for (i, label) in labels.enumerated() where mask[i] {
            var row = probabilities[i]
            row[label] += 1e-6
            if Self.argmax(row) == label { mask[i] = false }
        }
        return mask
    }

    /// The class each image most likely belongs to (first arg-max) and its probability.
    public func suggestion(for image: Int) -> (label: Int, probability: Double) {
        let label = Self.argmax(probabilities[image])
        return (label, probabilities[image][label])
    }

    // MARK: - cleanlab's helpers

    /// `_keep_at_least_n_per_class` with n = 1 and frac_noise = 1 on C[guessed][given]: a
    /// diagonal raised to 1 takes the difference from the column's non-zero noise rates;
    /// values are then truncated to whole counts as numpy's `astype(int)` does.
    static func keepAtLeastOnePerClass(_ matrix: [[Int]]) -> [[Int]] {
        let k = matrix.count
        var result = matrix.map { $0.map(Double.init) }
        for column in 0..<k {
            let diagonal = matrix[column][column]
            let difference = Double(max(diagonal, 1) - diagonal)
            let nonZero = (0..<k).filter { matrix[$0][column] != 0 }.count
            let rates = max(Double(nonZero) - 1, 1)
            for row in 0..<k {
                result[row][column] = max(result[row][column] - difference / rates, 0)
            }
            result[column][column] = Double(max(diagonal, 1))
        }
        return result.map { $0.map { Int($0) } }
    }

    /// cleanlab's `round_preserving_sum`: rounds half to even (numpy), then moves the
    /// rounding error onto the entries whose fractional parts were cut most (ties: numpy's
    /// small-array insertion sort order, reversed when adding).
    static func roundPreservingSum(_ values: [Double]) -> [Int] {
        var ints = values.map { $0.rounded(.toNearestOrEven) }
        let target = values.reduce(0, +).rounded(.toNearestOrEven)
        var sum = ints.reduce(0, +).rounded(.toNearestOrEven)
        while abs(sum - target) > 1e-6 {
            let difference = (target - sum).rounded(.toNearestOrEven)
            let increment: Double = difference < 0 ? -1 : 1
            let changes = min(Int(abs(difference)), values.count)
            let residuals = zip(values, ints).map { $0 - $1 }
            var order = residuals.indices.sorted { residuals[$0] != residuals[$1] ? residuals[$0] < residuals[$1] : $0 < $1 }
            if increment > 0 { order.reverse() }
            for i in order.prefix(changes) { ints[i] += increment }
            sum = ints.reduce(0, +).rounded(.toNearestOrEven)
        }
        return ints.map { Int($0) }
    }

    static func argmax(_ row: [Double]) -> Int {
        var best = 0
        for j in row.indices where row[j] > row[best] { best = j }
        return best
    }

    private func transpose(_ m: [[Int]]) -> [[Int]] {
        (0..<classCount).map { j in (0..<classCount).map { m[$0][j] } }
    }
}
