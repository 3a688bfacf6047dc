"""Traditional character forms read in the issuing authority, mapped to the simplified ones printed.

Mainland cards print the authority (``武汉市公安局``) in simplified characters, but the recogniser
(trained on both scripts) sometimes returns the traditional form of a character (``武漢市公安局``),
most often in a serif face; the same happens in the address (``681號``). The mapping below is fixed
and applied to the authority and the address only (never to a name, which may be printed in any form).
It holds the traditional forms of characters found in division names and in the words of an
authority (公安局, 分局, 派出所, 大队 …). None of its traditional forms occurs in any name of the GB/T
2260 division table (a unit test checks this), so the mapping can turn a misread back into the
printed name but never one real name into another. A value changed by it is reported with
``IdCardReason.AUTHORITY_SIMPLIFIED`` or ``IdCardReason.ADDRESS_SIMPLIFIED``.
"""

from __future__ import annotations

__all__ = ["TRADITIONAL_TO_SIMPLIFIED", "simplify_authority"]

# Pairs "traditional simplified", written out so that the table can be read and reviewed.
_PAIRS = (
    "漢汉 黃黄 東东 陽阳 區区 縣县 門门 廣广 嶺岭 島岛 灣湾 華华 龍龙 興兴 寧宁 遼辽 蘭兰 齊齐 爾尔 鄉乡 "
    "鎮镇 莊庄 關关 陝陕 貴贵 雲云 臺台 蘇苏 張张 樂乐 長长 慶庆 鄭郑 開开 濟济 澤泽 陰阴 崗岗 寶宝 萬万 "
    "豐丰 滄沧 廈厦 潁颍 灤滦 遠远 錫锡 晉晋 溝沟 橋桥 頭头 衛卫 濱滨 瀋沈 陸陆 邊边 壩坝 壽寿 鳳凤 靈灵 "
    "鶴鹤 雞鸡 義义 烏乌 倫伦 內内 與与 陳陈 楊杨 劉刘 趙赵 吳吴 孫孙 馬马 羅罗 鄧邓 許许 韓韩 馮冯 蔣蒋 "
    "蕭萧 葉叶 閩闽 贛赣 魯鲁 粵粤 瓊琼 隴陇 維维 懷怀 淶涞 紅红 綏绥 縉缙 麗丽 鄰邻 禮礼 壺壶 漵溆 瀘泸 "
    "澗涧 灘滩 潛潜 淺浅 湯汤 溫温 滿满 潯浔 滬沪 閔闵 鹽盐 鋼钢 鐵铁 礦矿 黨党 團团 農农 墾垦 師师 連连 "
    "營营 軍军 場场 廠厂 園园 會会 審审 辦办 處处 務务 機机 號号 盤盘 彎弯 婁娄 嶽岳 雙双 鴨鸭 綿绵 蘆芦 "
    "達达 資资 涼凉 瀾澜 畢毕 節节 銅铜 蒼苍 瑪玛 臨临 貢贡 闐阗 庫库 車车 銀银 涇泾 剛刚 稱称 雜杂 謙谦 "
    "萊莱 蕪芜 績绩 鄲郸 運运 呂吕 撫抚 順顺 錦锦 貝贝 彥彦 廳厅 隊队 總总 勝胜 鄒邹 濰潍 煙烟 棗枣 堯尧 "
    "舊旧 駐驻 滎荥 鞏巩 歸归 蓮莲 鄖郧 隨随 荊荆 紀纪 湞浈 饒饶 鷹鹰 滸浒 廬庐 揚扬 蘄蕲 漣涟 賓宾 賀贺 "
    "欽钦 憑凭 瀏浏 階阶 積积 徑径 蕩荡 渾浑 鎖锁 錢钱 郵邮 鄆郓 鄴邺 壇坛 聶聂 尋寻 樓楼 風风 夢梦 渦涡 "
    "屬属 圍围 館馆 際际 頂顶 橫横 漁渔 鳥鸟 魚鱼 龜龟 鍾钟 鐘钟 顏颜 滙汇 匯汇 彌弥 淥渌 瀧泷 禪禅 靜静 "
    "閬阆 閻阎 閘闸 閣阁 瀨濑 濕湿 驛驿 岡冈 嶧峄 嶗崂 圓圆 藍蓝 邁迈 糧粮 棲栖 顯显 頓顿 觀观 嶼屿 環环 "
    "壯壮 絳绛 騰腾 鷺鹭 儀仪 兩两 廟庙 塢坞 巒峦 遷迁 遙遥 醫医 麥麦 齡龄 龐庞 飛飞 養养 餘余 塊块 派派 "
    # The words of an address below the village (seed 2081 serif card 167 read 2組70号 in a Ming face)
    # and surnames that name villages (seed 2071 serif card 164: 謝庄村).
    "組组 棟栋 單单 層层 戶户 條条 謝谢 週周"
)
TRADITIONAL_TO_SIMPLIFIED: dict[str, str] = {
    pair[0]: pair[1] for pair in _PAIRS.split() if len(pair) == 2 and pair[0] != pair[1]
}
_TABLE = str.maketrans(TRADITIONAL_TO_SIMPLIFIED)


def simplify_authority(text: str) -> str:
    """The authority with traditional forms replaced by the simplified ones (see the module)."""
    return text.translate(_TABLE)
