import Foundation
import PetalCore
import PetalTestSupport
import XCTest

/// Reference values written by scripts/fixtures/make_weight_fixtures.py from Python
/// (h5py, torch): shape, first values, sum and sum of magnitudes of each tensor.
struct TensorSummary: Decodable {
    let shape: [Int]
    let first: [Double]
    let sum: Double
    let absSum: Double
}

struct RealReference: Decodable {
    let count: Int
    let tensors: [String: TensorSummary]
}

enum Expectations {
    static let fixtures: [String: [String: TensorSummary]] = {
        let data = try! Data(contentsOf: Fixtures.url("weights/expected.json"))
        return try! JSONDecoder().decode([String: [String: TensorSummary]].self, from: data)
    }()

    static let real: [String: RealReference] = {
        guard let data = try? Data(contentsOf: Fixtures.url("weights/real_reference.json")) else { return [:] }
        return (try? JSONDecoder().decode([String: RealReference].self, from: data)) ?? [:]
    }()

    /// Checks a tensor against its Python summary; scalars are stored by Petal as [1].
    static func check(_ tensor: Tensor?, _ summary: TensorSummary, _ name: String,
                      tolerance: Double = 1e-4, file: StaticString = #filePath, line: UInt = #line) {
        guard let tensor else { return XCTFail("missing tensor \(name)", file: file, line: line) }
        XCTAssertEqual(tensor.shape, summary.shape.isEmpty ? [1] : summary.shape, name, file: file, line: line)
        guard let values = try? tensor.toArray().map(Double.init) else {
            return XCTFail("\(name): cannot read the tensor's values", file: file, line: line)
        }
        for (a, b) in zip(values, summary.first) {
            XCTAssertEqual(a, b, accuracy: 1e-6 + 1e-6 * abs(b), "\(name) first values", file: file, line: line)
        }
        let sum = values.reduce(0, +), absSum = values.reduce(0) { $0 + abs($1) }
        XCTAssertEqual(sum, summary.sum, accuracy: tolerance * max(1, summary.absSum), "\(name) sum", file: file, line: line)
        XCTAssertEqual(absSum, summary.absSum, accuracy: tolerance * max(1, summary.absSum), "\(name) |sum|", file: file, line: line)
    }
}
