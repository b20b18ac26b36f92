import Foundation
import PetalCore
@testable import PetalData
import PetalTestSupport
import XCTest

/// Data-parallel batches: the ranks' shares of each global batch, put together in rank order,
/// are one process's batch with the global batch size: the same images, augmented the same way.
final class BatchShardingTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = Fixtures.temporaryDirectory("petal-sharding")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("a"), withIntermediateDirectories: true)
        for i in 0..<11 {
            try JPEGEncoder.write(TestImages.gradient(width: 20, height: 16, seed: i), to: dir.appendingPathComponent("a/\(i).jpg"))
        }
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func cache(_ count: Int) throws -> ImageCache {
        try ImageCache(files: Array(try ImageFolder(dir).items.prefix(count)), size: (20, 16))
    }

    func testSharesOfEachGlobalBatchAreOneProcesssBatch() throws {
        // 11 images, 3 ranks of 2: global batches of 6 and 5 (shares 2, 2, 1 at the end);
        // 7 images: a last batch of 1, so two ranks get a padding image that counts for nothing.
        for count in [11, 7] {
            let cache = try cache(count)
            let whole = Array(BatchLoader(cache: cache, batchSize: 6, shuffle: true, augmentation: .standard,
                                          normalization: .minusOneToOne, seed: 5).epoch(1))
            let ranks = (0..<3).map { rank in
                Array(BatchLoader(cache: cache, batchSize: 2, shuffle: true, augmentation: .standard,
                                  normalization: .minusOneToOne, seed: 5,
                                  sharding: .batchShares(rank: rank, count: 3)).epoch(1))
            }
            for shares in ranks { XCTAssertEqual(shares.count, whole.count, "every rank runs every step") }
            for (b, batch) in whole.enumerated() {
                let shares = ranks.map { $0[b] }.filter { !$0.isPadding }
                XCTAssertEqual(shares.flatMap(\.indices), batch.indices, "\(count) images, batch \(b)")
                XCTAssertEqual(shares.flatMap { Array($0.images.floats) }, Array(batch.images.floats))
                XCTAssertEqual(shares.map(\.globalOffset), shares.reductions(), "offsets")
                for share in ranks.map({ $0[b] }) { XCTAssertEqual(share.globalCount, batch.count) }
            }
            XCTAssertEqual(ranks.map { $0.last!.isPadding }, count == 7 ? [false, true, true] : [false, false, false])
        }
    }

    func testEvaluationBlocksInRankOrderAreTheImagesInOrder() throws {
        let cache = try cache(11)
        let blocks = (0..<3).map { rank in
            Array(BatchLoader.evaluation(cache: cache, batchSize: 2, normalization: .minusOneToOne,
                                         sharding: .block(rank: rank, count: 3)).epoch(0))
        }
        XCTAssertEqual(blocks.map { $0.reduce(0) { $0 + $1.count } }, [4, 4, 3])
        XCTAssertEqual(blocks.flatMap { $0.flatMap(\.indices) }, Array(0..<11))
        XCTAssertEqual(BatchLoader.Sharding.part(1, of: 4, 2), 1..<2)
        XCTAssertEqual(BatchLoader.Sharding.part(3, of: 4, 2), 2..<2)
    }
}

private extension Array where Element == Batch {
    /// The offset each share starts at: the sizes of the shares before it.
    func reductions() -> [Int] {
        var offsets: [Int] = [], sum = 0
        for batch in self { offsets.append(sum); sum += batch.count }
        return offsets
    }
}
