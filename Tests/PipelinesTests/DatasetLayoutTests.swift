import Foundation
import Pipelines
import TestSupport
import XCTest

/// The released layouts of LRS2, LRS3, VoxCeleb2 and GRID, with their real file names, list
/// files and side-file formats, made of demo-corpus clips.
final class DatasetLayoutTests: XCTestCase {
    private func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    func testLRS2MainAndPretrainWithListsTagsAndTranscripts() throws {
        let s = ScratchDir("lrs2"), root = s.url.path
        try DemoClips.place(0, at: "\(root)/main/5535415699068794046/00001.mp4")
        try DemoClips.place(1, at: "\(root)/main/5535415699068794046/00002.mp4")
        try DemoClips.place(2, at: "\(root)/main/6300370419826092098/00001.mp4")
        try DemoClips.place(3, at: "\(root)/main/6331559613336179781/00004.mp4")  // in no list: skipped
        try DemoClips.place(4, at: "\(root)/pretrain/5535415699068794046/00003.mp4")
        try DemoClips.place(5, at: "\(root)/pretrain/6300370419826092098/00002.mp4")  // not in pretrain.txt: skipped
        try write("Text:  THE FIRST THING\nConf:  4\n", "\(root)/main/5535415699068794046/00001.txt")
        try write("Text:  WE KNOW\nConf:  6\n", "\(root)/main/6300370419826092098/00001.txt")
        try write("Text:  WHEN YOU LOOK\nConf:  3\n\nWORD START END ASDSCORE\nWHEN 0.11 0.25 1.9\nYOU 0.25 0.40 2.4\nLOOK 0.40 0.71 3.0\n",
                  "\(root)/pretrain/5535415699068794046/00003.txt")
        try write("5535415699068794046/00001\n", "\(root)/train.txt")
        try write("5535415699068794046/00002\n", "\(root)/val.txt")
        try write("6300370419826092098/00001 NF\n", "\(root)/test.txt")
        try write("5535415699068794046/00003\n", "\(root)/pretrain.txt")
        var options = LRS2Options()
        options.sets = ["main", "pretrain"]
        let items = try AdapterSpec.lrs2(options).list(root: root).items
        XCTAssertEqual(items.map(\.id), ["main/5535415699068794046/00001", "main/5535415699068794046/00002",
                                         "main/6300370419826092098/00001", "pretrain/5535415699068794046/00003"])
        XCTAssertEqual(items.map(\.split), ["train", "val", "test", "pretrain"])
        XCTAssertEqual(items.map(\.speaker), ["5535415699068794046", "5535415699068794046", "6300370419826092098", "5535415699068794046"])
        XCTAssertEqual(items[0].metadata, ["text": "THE FIRST THING", "conf": "4"])
        XCTAssertEqual(items[1].metadata, [:])
        XCTAssertEqual(items[2].metadata, ["text": "WE KNOW", "conf": "6", "tag": "NF"])
        XCTAssertEqual(items[3].metadata, ["text": "WHEN YOU LOOK", "conf": "3",
                                           "words": "WHEN 0.11 0.25 1.9\nYOU 0.25 0.40 2.4\nLOOK 0.40 0.71 3.0"])
        // Without pretrain.txt every pretrain clip is taken.
        try FileManager.default.removeItem(atPath: "\(root)/pretrain.txt")
        XCTAssertEqual(try AdapterSpec.lrs2(options).list(root: root).items.filter { $0.split == "pretrain" }.map(\.id),
                       ["pretrain/5535415699068794046/00003", "pretrain/6300370419826092098/00002"])
    }

    func testLRS3SetsSpeakersAndTranscripts() throws {
        let s = ScratchDir("lrs3"), root = s.url.path
        try DemoClips.place(0, at: "\(root)/trainval/0af00UcTOSc/50001.mp4")
        try DemoClips.place(1, at: "\(root)/trainval/0af00UcTOSc/50002.mp4")
        try DemoClips.place(2, at: "\(root)/test/0Fi83BHQsMA/00002.mp4")
        try DemoClips.place(3, at: "\(root)/pretrain/00j9bKdiOjk/00001.mp4")
        try write("Text:  SO I WENT\nConf:  3\nRef:   https://www.youtube.com/watch?v=0af00UcTOSc\n\nWORD START END ASDSCORE\n"
                  + "SO 0.11 0.25 1.9\nI 0.25 0.30 2.1\nWENT 0.30 0.62 4.4\n", "\(root)/trainval/0af00UcTOSc/50001.txt")
        let items = try AdapterSpec.lrs3(LRS3Options()).list(root: root).items
        XCTAssertEqual(items.map(\.id), ["test/0Fi83BHQsMA/00002", "trainval/0af00UcTOSc/50001", "trainval/0af00UcTOSc/50002"])
        XCTAssertEqual(items.map(\.split), ["test", "train", "train"])
        XCTAssertEqual(items.map(\.speaker), ["0Fi83BHQsMA", "0af00UcTOSc", "0af00UcTOSc"])
        XCTAssertEqual(items[1].metadata, ["text": "SO I WENT", "conf": "3", "ref": "https://www.youtube.com/watch?v=0af00UcTOSc",
                                           "words": "SO 0.11 0.25 1.9\nI 0.25 0.30 2.1\nWENT 0.30 0.62 4.4"])
        var options = LRS3Options()
        options.sets = ["pretrain"]
        XCTAssertEqual(try AdapterSpec.lrs3(options).list(root: root).items.map(\.split), ["pretrain"])
    }

    func testVoxCeleb2SpeakersSplitsAndFrameHints() throws {
        let s = ScratchDir("vox2"), root = s.url.path
        try DemoClips.place(0, at: "\(root)/dev/mp4/id00012/21Uxsk56VDQ/00001.mp4")
        try DemoClips.place(1, at: "\(root)/dev/mp4/id00012/2DLq_Kkc1r8/00016.mp4")
        try DemoClips.place(2, at: "\(root)/test/mp4/id00017/01dfn2spqyE/00001.mp4")
        try write("Identity  : \tid00012\nReference : \t21Uxsk56VDQ\nOffset    : \t1\nFV Conf   : \t16.647\t(1)\nASD Conf  : \t4.465\n\n"
                  + "FRAME \tX \tY \tW \tH \n000064 \t0.490 \t0.175 \t0.225 \t0.401 \n000065 \t0.491 \t0.176 \t0.224 \t0.400 \n",
                  "\(root)/dev/txt/id00012/21Uxsk56VDQ/00001.txt")
        let items = try AdapterSpec.voxceleb2(VoxCeleb2Options()).list(root: root).items
        XCTAssertEqual(items.map(\.id), ["dev/id00012/21Uxsk56VDQ/00001", "dev/id00012/2DLq_Kkc1r8/00016", "test/id00017/01dfn2spqyE/00001"])
        XCTAssertEqual(items.map(\.source), ["dev/mp4/id00012/21Uxsk56VDQ/00001.mp4", "dev/mp4/id00012/2DLq_Kkc1r8/00016.mp4",
                                             "test/mp4/id00017/01dfn2spqyE/00001.mp4"])
        XCTAssertEqual(items.map(\.speaker), ["id00012", "id00012", "id00017"])
        XCTAssertEqual(items.map(\.split), ["train", "train", "test"])
        XCTAssertEqual(items[0].metadata, ["identity": "id00012", "reference": "21Uxsk56VDQ", "offset": "1",
                                           "fv_conf": "16.647\t(1)", "asd_conf": "4.465",
                                           "frames": "000064 0.490 0.175 0.225 0.401\n000065 0.491 0.176 0.224 0.400"])
        XCTAssertEqual(items[2].metadata, [:])
    }

    /// GRID: MPEG-2 `.mpg` videos, `.align` word timings; the metadata reaches the ledger and
    /// `cals status --item`; a split by named test speaker reaches `cals status` and the
    /// trainers' default held-out speakers.
    func testGRIDAlignmentsReachTheLedger() throws {
        let s = ScratchDir("grid"), root = s.path("data"), out = s.path("out"), manifest = s.path("grid.yaml")
        try DemoClips.place(0, at: "\(root)/s1/bbaf2n.mpg")
        try DemoClips.place(3, at: "\(root)/s2/lgwm5a.mpg")
        try write("0 23750 sil\n23750 29500 bin\n29500 34000 blue\n34000 100000 sil\n", "\(root)/alignments/s1/bbaf2n.align")
        let items = try AdapterSpec.grid(GRIDOptions()).list(root: root).items
        XCTAssertEqual(items.map(\.id), ["s1/bbaf2n", "s2/lgwm5a"])
        XCTAssertEqual(items.map(\.speaker), ["s1", "s2"])
        let words = "sil 0.000 0.950\nbin 0.950 1.180\nblue 1.180 1.360\nsil 1.360 4.000"
        XCTAssertEqual(items[0].metadata, ["text": "bin blue", "words": words])
        XCTAssertEqual(items[1].metadata, [:])

        try "dataset: grid\nadapter: {kind: grid}\nsplit: {test_speakers: [s2]}\nstages: [decode: {}, face: {}, mel: {}, align: {}, shard: {}]\nworkers: 1\n"
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        try Fixture.preprocess(manifest, data: root, out: out)
        XCTAssertEqual(try LedgerReader(outFolder: out).items()["s1/bbaf2n"]?.metadata, ["text": "bin blue", "words": words])
        XCTAssertEqual(try LedgerReader(outFolder: out).testSpeakers(), ["s2"])
        let summary = try Fixture.cals(["status", "--out", out])
        XCTAssertTrue(summary.stdout.contains("\nsplits: test 1 items / 1 speakers, train 1 items / 1 speakers\n"), summary.stdout)
        let status = try Fixture.cals(["status", "--out", out, "--item", "s1/bbaf2n"])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("  speaker s1  split train\n"), status.stdout)
        XCTAssertTrue(status.stdout.contains("    text: bin blue\n    words: (4 rows)\n      sil 0.000 0.950\n"), status.stdout)
        // A changed alignment updates the metadata without re-processing the item.
        try write("0 23750 sil\n23750 29500 bin\n", "\(root)/alignments/s1/bbaf2n.align")
        XCTAssertTrue(try Fixture.preprocess(manifest, data: root, out: out).contains("processed 0, up to date 2"))
        XCTAssertEqual(try LedgerReader(outFolder: out).items()["s1/bbaf2n"]?.metadata["text"], "bin")
    }
}
